// Status and Result<T> are part of the client's public API: they live in
// client/include/framewire/status.h, next to the other public headers. Internal code includes
// them through this header.
#pragma once

#include "framewire/status.h"
