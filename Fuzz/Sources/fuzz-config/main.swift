import Foundation
import Formats

// Without a use of its result the optimizer may delete the call.
@_optimize(none) func keep<T>(_ value: T) {}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    keep(try? LoRWeBAdapterConfig(yaml: text, path: "<fuzz>"))
    return 0
}
