#include "worker/decode/ffmpeg_handles.h"

#include <mutex>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace framewire {

UniqueAVFrame referenceFrame(const AVFrame* frame) {
  UniqueAVFrame copy = allocateFrame();
  if (!copy || av_frame_ref(copy.get(), frame) < 0) return nullptr;
  return copy;
}

std::shared_ptr<const void> shareBuffer(const AVBufferRef* buffer) {
  AVBufferRef* reference = av_buffer_ref(buffer);
  if (!reference) return nullptr;
  return std::shared_ptr<const void>(std::shared_ptr<AVBufferRef>(reference, AVBufferRefUnref()));
}

std::shared_ptr<const void> sharePacket(UniqueAVPacket packet) {
  return std::shared_ptr<const void>(std::shared_ptr<AVPacket>(packet.release(), AVPacketFreer()));
}

std::string avErrorString(int error) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(error, text, sizeof(text)) < 0) return "FFmpeg error " + std::to_string(error);
  return text;
}

void quietFfmpegLogging() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_ERROR); });
}

}  // namespace framewire
