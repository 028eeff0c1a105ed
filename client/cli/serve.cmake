# The embedded server behind `framewire serve` (broker + worker threads over inproc).
add_library(framewire_serve STATIC
  ${CMAKE_CURRENT_LIST_DIR}/embedded_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/serve_command.cpp)
target_include_directories(framewire_serve PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(framewire_serve PUBLIC framewire_broker framewire_worker framewire_common)
