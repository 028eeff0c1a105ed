# Sources of framewire_worker_core: the socket-free decode side of a worker (RequestHandler and
# everything beneath it). Paths are relative to worker/.
set(FW_WORKER_CORE_SOURCES
  request_handler.cpp)
