/* Umbrella header of the C kernels: plain float* + sizes, no model knowledge. */
#pragma once
#include "threads.h"
#include "gemm.h"
#include "conv2d.h"
#include "winograd.h"
#include "resample.h"
#include "bias_act.h"
#include "norm.h"
#include "pool.h"
#include "elementwise.h"
#include "adam.h"
#include "random.h"
