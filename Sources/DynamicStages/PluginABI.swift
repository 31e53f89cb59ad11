internal import CStageABI

/// The handshake constants of `normd_stage.h`, in one place for the loader and its messages.
public enum PluginABI {
    /// `NORMD_STAGE_ABI_VERSION` as this normd was compiled.
    public static let version = UInt32(NORMD_STAGE_ABI_VERSION)
    /// The symbol every plugin exports.
    public static let entrySymbol = NORMD_STAGE_ENTRY_SYMBOL
    /// Smallest `struct_size` accepted for the plugin header and for a stage table: the layouts this
    /// host reads. Larger structs come from a newer header of the same version with fields appended.
    static let headerSize = MemoryLayout<normd_stage_plugin>.size
    static let vtableSize = MemoryLayout<normd_stage_vtable>.size
}
