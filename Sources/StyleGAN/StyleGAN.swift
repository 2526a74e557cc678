// The StyleGAN library: tensors, autograd, ops, networks, checkpoints. Placeholder while the core lands.
import CKernels
import CImage
