// A reader of Python's pickle format (protocols 0-5) that executes nothing. It interprets the
// opcodes into plain values and builds only what an allow-list names: a few functions it evaluates
// itself (OrderedDict, torch's tensor rebuild, numpy's array reconstruction, `_codecs.encode`) and
// classes it keeps as records (an object is its class name, constructor arguments and state). Any
// other global is refused with its name. Containers live in an arena and refer to each other by
// index, so a hostile stream (cycles, deep nesting) can neither recurse nor leak, and every
// length is checked against the bytes left, so nothing allocates more than the input justifies.
import Foundation

/// A value of the pickle machine. Containers and large payloads are indices into `Pickle`'s arenas.
public enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    /// A byte range of the input (or of `Pickle.blobs` when `owned`).
    case bytes(Range<Int>, owned: Int?)
    case tuple(Int)
    case list(Int)
    case dict(Int)
    case object(Int)
    /// An allowed global used as a value (a class or a storage type), "module.name".
    case global(String)
    /// A tensor rebuilt by torch's `_rebuild_tensor_v2`, an index into `Pickle.tensors`.
    case tensor(Int)
    /// A persistent id (torch's storages), resolved by the file format's reader.
    case storage(Int)
    case mark
}

/// A tensor of a torch file as its pickle describes it: a view of a storage.
public struct TorchTensorRef {
    public var storage: Int
    public var offset: Int
    public var shape: [Int]
    public var stride: [Int]
}

/// An object of an allowed class: its class, the arguments it was made with and its state.
public struct PickleObject {
    public var type: String
    public var args: [PickleValue]
    public var state: PickleValue?
}

public struct Pickle {
    /// Callables the reader evaluates itself, by their global names.
    public enum Builtin: String, CaseIterable {
        case orderedDict = "collections.OrderedDict"
        case rebuildTensorV2 = "torch._utils._rebuild_tensor_v2"
        case rebuildTensor = "torch._utils._rebuild_tensor"
        case rebuildParameter = "torch._utils._rebuild_parameter"
        case codecsEncode = "_codecs.encode"
        case set = "builtins.set"
        case frozenset = "builtins.frozenset"
        /// TorchScript's int lists (e.g. a conv's padding): the list itself.
        case buildIntList = "torch.jit._pickle.build_intlist"
    }

    /// What a reader accepts beyond the built-ins: classes kept as records (exact names or
    /// prefixes such as "__torch__."), and globals that may appear only as values (storage types).
    public struct Policy {
        public var recordClasses: Set<String> = []
        public var recordPrefixes: [String] = []
        public var valueGlobals: Set<String> = []
        public var maxDepth = 64

        public init(recordClasses: Set<String> = [], recordPrefixes: [String] = [], valueGlobals: Set<String> = []) {
            (self.recordClasses, self.recordPrefixes, self.valueGlobals) = (recordClasses, recordPrefixes, valueGlobals)
        }

        func isRecord(_ name: String) -> Bool {
            recordClasses.contains(name) || recordPrefixes.contains { name.hasPrefix($0) }
        }

        var allowedNames: [String] {
            Builtin.allCases.map(\.rawValue) + recordClasses.sorted() + recordPrefixes.map { $0 + "*" } + valueGlobals.sorted()
        }
    }

    public private(set) var input: Data
    public private(set) var root: PickleValue = .none
    public private(set) var tuples: [[PickleValue]] = []
    public private(set) var lists: [[PickleValue]] = []
    public private(set) var dicts: [[(PickleValue, PickleValue)]] = []
    public private(set) var objects: [PickleObject] = []
    public private(set) var tensors: [TorchTensorRef] = []
    /// Persistent ids, as the stream gave them (the file format gives them meaning).
    public private(set) var persistentIDs: [PickleValue] = []
    public private(set) var blobs: [Data] = []
    /// Where the pickle ended (the STOP opcode + 1): torch's legacy format has more after it.
    public private(set) var end = 0

    /// Parses one pickle starting at `offset` of `data`. `what` names the input in errors.
    public init(_ data: Data, offset: Int = 0, policy: Policy, what: String) throws {
        input = data
        var m = Machine(pickle: self, policy: policy, what: what, pos: data.startIndex + offset)
        try m.run()
        self = m.pickle
    }

    // MARK: - Access

    public func tuple(_ v: PickleValue) -> [PickleValue]? {
        switch v {
        case .tuple(let i): return tuples[i]
        case .list(let i): return lists[i]
        default: return nil
        }
    }

    public func list(_ v: PickleValue) -> [PickleValue]? { tuple(v) }

    /// A dict's items in insertion order (an OrderedDict is a dict).
    public func dict(_ v: PickleValue) -> [(PickleValue, PickleValue)]? {
        if case .dict(let i) = v { return dicts[i] }
        return nil
    }

    /// A dict with string keys, keeping the last value of a repeated key.
    public func stringDict(_ v: PickleValue) -> [String: PickleValue]? {
        guard let items = dict(v) else { return nil }
        var out: [String: PickleValue] = [:]
        for (k, value) in items {
            guard case .string(let s) = k else { return nil }
            out[s] = value
        }
        return out
    }

    public func object(_ v: PickleValue) -> PickleObject? {
        if case .object(let i) = v { return objects[i] }
        return nil
    }

    public func bytes(_ v: PickleValue) -> Data? {
        guard case let .bytes(r, owned) = v else { return nil }
        if let owned { return blobs[owned] }
        return input[r]
    }

    /// A short description of a value's kind for error messages (never recursive).
    public func kind(_ v: PickleValue) -> String {
        switch v {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .object(let i): return "object of \(objects[i].type)"
        case .global(let g): return "global \(g)"
        case .tensor: return "tensor"
        case .storage: return "storage"
        case .mark: return "mark"
        }
    }

    // MARK: - The machine

    private struct Machine {
        var pickle: Pickle
        let policy: Policy
        let what: String
        var pos: Int
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]
        /// Nesting depth of each container (by kind and index), checked as items are added.
        var depth: [Int: Int] = [:]

        var data: Data { pickle.input }

        func fail(_ reason: String) -> StyleGANError { .importing("\(what): \(reason)") }

        // Byte reads, each checked against what is left.
        mutating func byte() throws -> UInt8 {
            guard pos < data.endIndex else { throw fail("pickle ends before its STOP opcode (truncated file?)") }
            defer { pos += 1 }
            return data[pos]
        }

        mutating func take(_ n: Int) throws -> Range<Int> {
            guard n >= 0, n <= data.endIndex - pos else {
                throw fail("pickle declares \(n) bytes at offset \(pos - data.startIndex) but only \(data.endIndex - pos) remain")
            }
            defer { pos += n }
            return pos..<(pos + n)
        }

        mutating func uint(_ n: Int) throws -> UInt64 {
            let r = try take(n)
            var v: UInt64 = 0
            for (i, b) in data[r].enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
            return v
        }

        mutating func length(_ n: Int) throws -> Int {
            let v = try uint(n)
            guard v <= UInt64(data.endIndex - pos) else {
                throw fail("pickle declares \(v) bytes at offset \(pos - data.startIndex) but only \(data.endIndex - pos) remain")
            }
            return Int(v)
        }

        mutating func line() throws -> String {
            guard let nl = data[pos...].firstIndex(of: 0x0A) else { throw fail("pickle text argument has no end of line") }
            defer { pos = nl + 1 }
            return String(decoding: data[pos..<nl], as: UTF8.self)
        }

        mutating func pop() throws -> PickleValue {
            guard let v = stack.popLast() else { throw fail("pickle pops an empty stack") }
            if case .mark = v { throw fail("pickle pops a MARK as a value") }
            return v
        }

        /// The values since the last MARK, removed with it.
        mutating func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("pickle has no MARK to pop to") }
            let items = Array(stack[(m + 1)...])
            stack.removeSubrange(m...)
            return items
        }

        mutating func push(_ v: PickleValue) throws {
            guard stack.count < 50_000_000 else { throw fail("pickle stack exceeds 50,000,000 values") }
            stack.append(v)
        }

        func depthOf(_ v: PickleValue) -> Int {
            switch v {
            case .tuple(let i): return depth[i << 3 | 0] ?? 1
            case .list(let i): return depth[i << 3 | 1] ?? 1
            case .dict(let i): return depth[i << 3 | 2] ?? 1
            case .object(let i): return depth[i << 3 | 3] ?? 1
            default: return 0
            }
        }

        /// Records that `container` now holds `items`; containers never get deeper than the
        /// policy allows (a nesting bomb fails here instead of overflowing a reader's stack).
        mutating func contains(_ key: Int, _ items: [PickleValue]) throws {
            let d = items.reduce(depth[key] ?? 1) { max($0, depthOf($1) + 1) }
            guard d <= policy.maxDepth else { throw fail("pickle nests containers deeper than \(policy.maxDepth) levels") }
            depth[key] = d
        }

        mutating func newTuple(_ items: [PickleValue]) throws -> PickleValue {
            pickle.tuples.append(items)
            try contains((pickle.tuples.count - 1) << 3 | 0, items)
            return .tuple(pickle.tuples.count - 1)
        }

        mutating func newList(_ items: [PickleValue]) throws -> PickleValue {
            pickle.lists.append([])
            let v = PickleValue.list(pickle.lists.count - 1)
            try append(v, items)
            return v
        }

        mutating func newDict(_ items: [(PickleValue, PickleValue)]) throws -> PickleValue {
            pickle.dicts.append([])
            let v = PickleValue.dict(pickle.dicts.count - 1)
            try setItems(v, items)
            return v
        }

        mutating func setItems(_ target: PickleValue, _ items: [(PickleValue, PickleValue)]) throws {
            guard case .dict(let i) = target else { throw fail("pickle sets items on a \(pickle.kind(target))") }
            try contains(i << 3 | 2, items.flatMap { [$0.0, $0.1] })
            pickle.dicts[i].append(contentsOf: items)
        }

        mutating func append(_ target: PickleValue, _ items: [PickleValue]) throws {
            guard case .list(let i) = target else { throw fail("pickle appends to a \(pickle.kind(target))") }
            try contains(i << 3 | 1, items)
            pickle.lists[i].append(contentsOf: items)
        }

        mutating func global(_ module: String, _ name: String) throws -> PickleValue {
            let full = module + "." + name
            if Builtin(rawValue: full) != nil || policy.isRecord(full) || policy.valueGlobals.contains(full) { return .global(full) }
            throw fail("refusing global '\(full)': this reader executes nothing and builds only \(policy.allowedNames.joined(separator: ", "))")
        }

        /// `callable(*args)` for the built-ins and record classes; anything else is refused.
        mutating func call(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
            guard case .global(let name) = callable else { throw fail("pickle calls a \(pickle.kind(callable))") }
            if let b = Builtin(rawValue: name) { return try evaluate(b, args) }
            guard policy.isRecord(name) else { throw fail("refusing to call '\(name)' (not a callable this reader allows)") }
            pickle.objects.append(PickleObject(type: name, args: args, state: nil))
            try contains((pickle.objects.count - 1) << 3 | 3, args)
            return .object(pickle.objects.count - 1)
        }

        func int(_ v: PickleValue, _ what: String) throws -> Int {
            if case .int(let i) = v { return i }
            if case .bool(let b) = v { return b ? 1 : 0 }
            throw fail("\(what) is a \(pickle.kind(v)), not an int")
        }

        func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
            guard let items = pickle.tuple(v) else { throw fail("\(what) is a \(pickle.kind(v)), not a tuple") }
            return try items.map { try int($0, what) }
        }

        mutating func evaluate(_ b: Builtin, _ args: [PickleValue]) throws -> PickleValue {
            switch b {
            case .orderedDict:
                var items: [(PickleValue, PickleValue)] = []
                if let source = args.first {
                    for pair in pickle.tuple(source) ?? [] {
                        guard let kv = pickle.tuple(pair), kv.count == 2 else { throw fail("OrderedDict item is not a pair") }
                        items.append((kv[0], kv[1]))
                    }
                }
                return try newDict(items)
            case .buildIntList:
                guard let list = args.first, pickle.tuple(list) != nil else { throw fail("build_intlist without a list") }
                return list
            case .set, .frozenset:
                pickle.lists.append(args.first.flatMap { pickle.tuple($0) } ?? [])
                return .list(pickle.lists.count - 1)
            case .rebuildTensorV2, .rebuildTensor:
                guard args.count >= 4, case .storage(let s) = args[0] else { throw fail("\(b.rawValue) without a storage") }
                let offset = try int(args[1], "tensor offset")
                let shape = try ints(args[2], "tensor size"), stride = try ints(args[3], "tensor stride")
                guard shape.count == stride.count, offset >= 0, shape.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }) else {
                    throw fail("tensor with size \(shape), stride \(stride), offset \(offset)")
                }
                pickle.tensors.append(TorchTensorRef(storage: s, offset: offset, shape: shape, stride: stride))
                return .tensor(pickle.tensors.count - 1)
            case .rebuildParameter:
                guard let t = args.first, case .tensor = t else { throw fail("_rebuild_parameter without a tensor") }
                return t
            case .codecsEncode:
                // Protocol 2's bytes: _codecs.encode(text, "latin1"), one byte per code point.
                guard args.count == 2, case .string(let text) = args[0], case .string(let enc) = args[1],
                      ["latin1", "latin-1", "iso-8859-1"].contains(enc.lowercased()) else { throw fail("_codecs.encode of something other than latin1 text") }
                var out = Data(capacity: text.unicodeScalars.count)
                for u in text.unicodeScalars {
                    guard u.value < 256 else { throw fail("_codecs.encode: code point \(u.value) is not latin1") }
                    out.append(UInt8(u.value))
                }
                pickle.blobs.append(out)
                return .bytes(0..<out.count, owned: pickle.blobs.count - 1)
            }
        }

        mutating func memoPut(_ key: Int) throws {
            guard let top = stack.last, !(top.isMark) else { throw fail("pickle memoizes an empty stack") }
            guard memo.count < 50_000_000 else { throw fail("pickle memo exceeds 50,000,000 entries") }
            memo[key] = top
        }

        mutating func memoGet(_ key: Int) throws {
            guard let v = memo[key] else { throw fail("pickle reads memo entry \(key), which was never written") }
            try push(v)
        }

        func decimal(_ s: String) throws -> Int {
            var t = s
            if t.hasSuffix("L") { t.removeLast() }
            guard let v = Int(t) else { throw fail("pickle integer '\(s)' is not a 64-bit integer") }
            return v
        }

        mutating func run() throws {
            while true {
                let op = try byte()
                switch op {
                case 0x80: _ = try byte()  // PROTO
                case 0x95: _ = try uint(8)  // FRAME: a hint only
                case 0x2E:  // STOP
                    pickle.root = try pop()
                    pickle.end = pos - data.startIndex
                    return
                case 0x28: marks.append(stack.count); try push(.mark)  // MARK
                case 0x30: _ = try pop()  // POP
                case 0x31: _ = try popMark()  // POP_MARK
                case 0x32:  // DUP
                    guard let top = stack.last else { throw fail("DUP on an empty stack") }
                    try push(top)
                // Constants and numbers
                case 0x4E: try push(.none)
                case 0x88: try push(.bool(true))
                case 0x89: try push(.bool(false))
                case 0x4B: try push(.int(Int(try uint(1))))  // BININT1
                case 0x4D: try push(.int(Int(try uint(2))))  // BININT2
                case 0x4A: try push(.int(Int(Int32(bitPattern: UInt32(try uint(4))))))  // BININT
                case 0x49:  // INT (text; "01"/"00" are booleans)
                    let s = try line()
                    try push(s == "01" ? .bool(true) : s == "00" ? .bool(false) : .int(try decimal(s)))
                case 0x4C: try push(.int(try decimal(try line())))  // LONG (text)
                case 0x8A, 0x8B:  // LONG1, LONG4: little-endian two's complement
                    let n = op == 0x8A ? Int(try uint(1)) : try length(4)
                    guard n <= 8 else { throw fail("pickle integer of \(n) bytes does not fit 64 bits") }
                    var v = try uint(n)
                    if n > 0 && n < 8 && v >> (8 * UInt64(n) - 1) != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }  // sign-extend
                    try push(.int(Int(Int64(bitPattern: v))))
                case 0x47: try push(.float(Double(bitPattern: UInt64(bigEndian: try uint(8)))))  // BINFLOAT
                case 0x46:  // FLOAT (text)
                    let s = try line()
                    guard let v = Double(s) else { throw fail("pickle float '\(s)' is not a number") }
                    try push(.float(v))
                // Text and bytes
                case 0x58, 0x8C, 0x8D:  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                    let r = try take(try length(op == 0x8C ? 1 : op == 0x58 ? 4 : 8))
                    try push(.string(String(decoding: data[r], as: UTF8.self)))
                case 0x55, 0x54:  // SHORT_BINSTRING, BINSTRING (Python 2 str, read as latin1 text)
                    let r = try take(try length(op == 0x55 ? 1 : 4))
                    try push(.string(String(data[r].map { Character(Unicode.Scalar($0)) })))
                case 0x56:  // UNICODE (raw-unicode-escape text)
                    try push(.string(try line()))
                case 0x53:  // STRING (quoted text)
                    var s = try line()
                    if s.count >= 2, let q = s.first, q == "'" || q == "\"", s.last == q { s = String(s.dropFirst().dropLast()) }
                    try push(.string(s))
                case 0x43, 0x42, 0x8E, 0x96:  // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8
                    let r = try take(try length(op == 0x43 ? 1 : op == 0x42 ? 4 : 8))
                    try push(.bytes(r, owned: nil))
                case 0x97, 0x98: throw fail("pickle uses out-of-band buffers (protocol 5 NEXT_BUFFER), which a file cannot carry")
                // Containers
                case 0x29: try push(try newTuple([]))  // EMPTY_TUPLE
                case 0x74: try push(try newTuple(try popMark()))  // TUPLE
                case 0x85, 0x86, 0x87:  // TUPLE1..3
                    let n = Int(op - 0x84)
                    guard stack.count >= n else { throw fail("TUPLE\(n) on a stack of \(stack.count)") }
                    var items: [PickleValue] = []
                    for _ in 0..<n { items.insert(try pop(), at: 0) }
                    try push(try newTuple(items))
                case 0x5D, 0x8F: try push(try newList([]))  // EMPTY_LIST, EMPTY_SET (a set is read as a list)
                case 0x6C, 0x91: try push(try newList(try popMark()))  // LIST, FROZENSET
                case 0x61:  // APPEND
                    let v = try pop()
                    guard let target = stack.last else { throw fail("APPEND without a list") }
                    try append(target, [v])
                case 0x65, 0x90:  // APPENDS, ADDITEMS
                    let items = try popMark()
                    guard let target = stack.last else { throw fail(op == 0x65 ? "APPENDS without a list" : "ADDITEMS without a set") }
                    try append(target, items)
                case 0x7D: try push(try newDict([]))  // EMPTY_DICT
                case 0x64:  // DICT
                    let items = try popMark()
                    guard items.count % 2 == 0 else { throw fail("DICT with an odd number of items") }
                    try push(try newDict(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }))
                case 0x73:  // SETITEM
                    let v = try pop(), k = try pop()
                    guard let target = stack.last else { throw fail("SETITEM without a dict") }
                    try setItems(target, [(k, v)])
                case 0x75:  // SETITEMS
                    let items = try popMark()
                    guard items.count % 2 == 0, let target = stack.last else { throw fail("SETITEMS with an odd number of items or no dict") }
                    try setItems(target, stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) })
                // Memo
                case 0x70: try memoPut(try decimal(try line()))  // PUT
                case 0x71: try memoPut(Int(try uint(1)))  // BINPUT
                case 0x72: try memoPut(Int(try uint(4)))  // LONG_BINPUT
                case 0x94: try memoPut(memo.count)  // MEMOIZE
                case 0x67: try memoGet(try decimal(try line()))  // GET
                case 0x68: try memoGet(Int(try uint(1)))  // BINGET
                case 0x6A: try memoGet(Int(try uint(4)))  // LONG_BINGET
                // Globals, calls and objects
                case 0x63:  // GLOBAL
                    let module = try line(), name = try line()
                    try push(try global(module, name))
                case 0x93:  // STACK_GLOBAL
                    let name = try pop(), module = try pop()
                    guard case .string(let n) = name, case .string(let m) = module else { throw fail("STACK_GLOBAL of non-strings") }
                    try push(try global(m, n))
                case 0x52, 0x81, 0x92:  // REDUCE, NEWOBJ, NEWOBJ_EX: callable(*args); NEWOBJ_EX's kwargs are dropped
                    if op == 0x92 { _ = try pop() }
                    let args = try pop(), callable = try pop()
                    guard let a = pickle.tuple(args) else {
                        throw fail("\(op == 0x52 ? "REDUCE" : op == 0x81 ? "NEWOBJ" : "NEWOBJ_EX") with a \(pickle.kind(args)) for arguments")
                    }
                    try push(try call(callable, a))
                case 0x69:  // INST
                    let module = try line(), name = try line()
                    let args = try popMark()
                    try push(try call(try global(module, name), args))
                case 0x6F:  // OBJ
                    var items = try popMark()
                    guard !items.isEmpty else { throw fail("OBJ without a class") }
                    let cls = items.removeFirst()
                    try push(try call(cls, items))
                case 0x62:  // BUILD
                    let state = try pop()
                    guard let target = stack.last else { throw fail("BUILD without an object") }
                    switch target {
                    case .object(let i):
                        try contains(i << 3 | 3, [state])
                        pickle.objects[i].state = state
                    case .dict:
                        // An OrderedDict's state is its instance dict (usually empty).
                        if let items = pickle.dict(state), !items.isEmpty { try setItems(target, items) }
                    case .tensor:
                        break  // torch's _rebuild_tensor_v2 state (hooks, metadata): nothing we use
                    default:
                        throw fail("BUILD on a \(pickle.kind(target))")
                    }
                case 0x50:  // PERSID
                    pickle.persistentIDs.append(.string(try line()))
                    try push(.storage(pickle.persistentIDs.count - 1))
                case 0x51:  // BINPERSID
                    pickle.persistentIDs.append(try pop())
                    try push(.storage(pickle.persistentIDs.count - 1))
                case 0x82, 0x83, 0x84: throw fail("pickle uses the extension registry (EXT opcodes), which this reader does not allow")
                default:
                    throw fail(String(format: "unknown pickle opcode 0x%02x at offset %d", op, pos - 1 - data.startIndex))
                }
            }
        }
    }
}

extension PickleValue {
    var isMark: Bool { if case .mark = self { return true } else { return false } }
}
