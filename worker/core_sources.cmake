# Sources of framewire_worker_core: the socket-free decode side of a worker (RequestHandler and
# everything beneath it). Paths are relative to worker/.
set(FW_WORKER_CORE_SOURCES
  decoder_pool.cpp
  ffmpeg_handles.cpp
  frame_converter.cpp
  image_encoder.cpp
  movie_catalog.cpp
  movie_index.cpp
  movie_input.cpp
  movie_path.cpp
  movie_reader.cpp
  output_image.cpp
  output_spec.cpp
  reply_builder.cpp
  request_handler.cpp)
