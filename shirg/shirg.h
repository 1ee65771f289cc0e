#pragma once
// The public SHIRG API (namespace shirg::select): parameters, selection, coordinate embedding,
// overlay. See docs/shirg.md.
#include "shirg/coord_embedding.h"
#include "shirg/overlay_png.h"
#include "shirg/select_params.h"
#include "shirg/selector.h"
