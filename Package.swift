// swift-tools-version:5.9
// StyleGAN in Swift: C kernels (OpenMP + OpenBLAS), image IO (libpng, libjpeg), the networks and
// autograd, training, inference and the `stylegan` command line. Layout fixed by the product's design.
import PackageDescription

// The C kernels are compiled optimised in every configuration: a debug test run on -O0 kernels
// would be tens of times slower and test nothing extra. OpenMP comes from LLVM 19's runtime
// (libomp-19-dev, linked as omp5): see ../shared/TOOLCHAIN.md.
let kernelCFlags: [CSetting] = [.unsafeFlags(["-O3", "-fopenmp", "-fno-math-errno"])]

// Data-parallel training over MPI is optional: `STYLEGAN_MPI=1 swift build` compiles the
// collectives against Open MPI (libopenmpi-dev; include path and -lmpi from pkg-config `ompi-c`);
// without it they are the single-process group and nothing of MPI is needed to build or run.
let withMPI = Context.environment["STYLEGAN_MPI"].map { $0 == "1" } ?? false
let mpiTargets: [Target] = withMPI
    ? [.systemLibrary(name: "COpenMPI", path: "Sources/COpenMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])])]
    : []

let package = Package(
    name: "StyleGAN",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "stylegan", targets: ["stylegan"]),
        .library(name: "StyleGAN", targets: ["StyleGAN"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "CKernels",
            path: "Sources/CKernels",
            cSettings: kernelCFlags,
            linkerSettings: [.linkedLibrary("openblas"), .linkedLibrary("omp5"), .linkedLibrary("m")]),
        .target(
            name: "CImage",
            path: "Sources/CImage",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
        .target(name: "StyleGAN", dependencies: ["CKernels", "CImage"], path: "Sources/StyleGAN"),
        .target(
            name: "CMPI",
            dependencies: withMPI ? ["COpenMPI"] : [],
            path: "Sources/CMPI",
            cSettings: withMPI ? [.define("STYLEGAN_WITH_MPI"), .unsafeFlags(["-O2"])] : [.unsafeFlags(["-O2"])]),
        .target(name: "Training", dependencies: ["StyleGAN", "CKernels", "CImage", "CMPI"], path: "Training"),
        .target(name: "Inference", dependencies: ["StyleGAN", "CKernels"], path: "Inference"),
        .executableTarget(
            name: "stylegan",
            dependencies: [
                "Training", "Inference", "StyleGAN", "CKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/stylegan"),
        // Test-only: the kernels' naive reference twins, never linked into the shipped targets.
        .target(name: "CKernelsReference", path: "Tests/KernelReference", cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("m")]),
        .testTarget(name: "CKernelsTests", dependencies: ["CKernels", "CKernelsReference", "CImage"], path: "Tests/CKernelsTests"),
        .target(name: "TestSupport", dependencies: ["StyleGAN"], path: "Tests/Support"),
        .testTarget(name: "StyleGANTests", dependencies: ["StyleGAN", "CKernels", "TestSupport"], path: "Tests/StyleGANTests"),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "StyleGAN", "CKernels", "CImage", "TestSupport"], path: "Tests/TrainingTests"),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "StyleGAN", "TestSupport"], path: "Tests/InferenceTests"),
    ] + mpiTargets
)
