// swift-tools-version:5.9
//
// The Swift package of authlock: the generated bindings (`authlock`) over the
// C declarations of the Rust library (`authlockFFI`, through the generated
// module map), linked with the static library `libauthlock.a`.
//
// Build the static library first (`cargo build` at the repository root, or
// `cargo build --release --target aarch64-apple-ios` and so on), then point
// AUTHLOCK_LIB_DIR at the directory that holds it; by default the package
// uses the debug build, ../../target/debug.
import Foundation
import PackageDescription

let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let libDir = ProcessInfo.processInfo.environment["AUTHLOCK_LIB_DIR"]
    ?? "\(packageDir)/../../target/debug"

let package = Package(
    name: "authlock",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "authlock", targets: ["authlock"]),
    ],
    targets: [
        // The generated header and module map (`module authlockFFI`).
        .systemLibrary(name: "authlockFFI", path: "Sources/authlockFFI"),
        .target(
            name: "authlock",
            dependencies: ["authlockFFI"],
            path: "Sources/authlock",
            linkerSettings: [
                // The archive itself, so that the static library is linked
                // even where a shared one sits beside it.
                .unsafeFlags(["\(libDir)/libauthlock.a"]),
                // What the Rust standard library and its dependencies need
                // (`cargo rustc -- --print native-static-libs`).
                .linkedFramework("CoreFoundation", .when(platforms: [.macOS, .iOS])),
                .linkedLibrary("iconv", .when(platforms: [.macOS, .iOS])),
                .linkedLibrary("pthread", .when(platforms: [.linux])),
                .linkedLibrary("dl", .when(platforms: [.linux])),
                .linkedLibrary("m", .when(platforms: [.linux])),
                .linkedLibrary("rt", .when(platforms: [.linux])),
                .linkedLibrary("util", .when(platforms: [.linux])),
                .linkedLibrary("gcc_s", .when(platforms: [.linux])),
            ]
        ),
        .testTarget(
            name: "authlockTests",
            dependencies: ["authlock"],
            path: "Tests/authlockTests"
        ),
    ]
)
