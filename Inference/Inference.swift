// Inference: generate, truncation, style mixing, interpolation (issue 6).
import StyleGAN
