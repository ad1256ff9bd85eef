import Foundation
import Formats

// The parsers are pure: without a use of their results the optimizer deletes the calls.
@_optimize(none) func keep<T>(_ value: T) {}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // TripletList.read refuses non-UTF-8 files before parsing, so only valid text reaches parse.
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    keep(try? CSV.parse(text))
    keep(try? TripletList.parse(text, path: "<fuzz>", folder: "/data"))
    return 0
}
