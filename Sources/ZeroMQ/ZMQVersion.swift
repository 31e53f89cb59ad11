internal import CZeroMQ

/// The version of the libzmq the process actually loaded (not the header it was compiled against),
/// so a deployment can log it and refuse a library that is too old.
public func zmqVersion() -> (major: Int, minor: Int, patch: Int) {
    var major: Int32 = 0
    var minor: Int32 = 0
    var patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (Int(major), Int(minor), Int(patch))
}
