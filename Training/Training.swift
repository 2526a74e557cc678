// Training: dataset cache, losses, optimiser, progressive schedule, EMA, the loop (issue 5).
import StyleGAN
