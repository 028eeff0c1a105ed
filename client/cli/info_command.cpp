// framewire info MOVIE: prints the movie's metadata as a JSON object on stdout.
#include <cstdio>

#include "client/cli/commands.h"
#include "client/cli/json_writer.h"
#include "client/cli/server_options.h"

namespace framewire::cli {
namespace {

// Keys follow proto::MovieInfo's field names, as the Python client does.
std::string movieInfoJson(const MovieInfo& info) {
  JsonWriter json;
  json.beginObject();
  json.key("movie").value(info.movie);
  json.key("num_frames").value(info.numFrames);
  json.key("width").value(info.width);
  json.key("height").value(info.height);
  json.key("fps").value(info.fps);
  json.key("duration").value(info.duration);
  json.key("codec").value(info.codec);
  json.key("pixel_format").value(info.pixelFormat);
  json.key("bit_depth").value(info.bitDepth);
  json.key("file_size").value(info.fileSize);
  json.key("keyframes").value(info.keyframes);
  json.key("time_base_num").value(info.timeBaseNum);
  json.key("time_base_den").value(info.timeBaseDen);
  json.key("start_time").value(info.startTime);
  json.endObject();
  return json.str();
}

}  // namespace

int runInfoCommand(int argc, char** argv) {
  ServerOptions server;
  std::string movie;
  ArgParser args("framewire info", "Prints a movie's metadata as JSON.");
  server.addTo(args);
  args.positional("MOVIE", "movie path relative to the server's roots", &movie);
  args.epilog("Example:\n  framewire info --server tcp://127.0.0.1:5555 RS03ASHS/PN03B/CAMHDA301-20160724T030000Z.mov");
  if (auto exit_code = args.parse(argc, argv)) return *exit_code;
  if (auto problem = server.validate(); !problem.empty()) return reportUsageError("info", problem);

  Client client = server.makeClient();
  Result<MovieInfo> info = client.info(movie);
  if (!info.ok()) return reportFailure(info.status());
  std::printf("%s\n", movieInfoJson(*info).c_str());
  return kExitOk;
}

}  // namespace framewire::cli
