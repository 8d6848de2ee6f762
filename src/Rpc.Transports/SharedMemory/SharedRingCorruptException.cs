namespace Rpc.Transports.SharedMemory;

/// <summary>
/// The peer wrote a ring position that cannot be true (out of range, or moving back). The
/// connection is failed: an <see cref="IOException"/>, so the layers above treat it as a broken
/// medium and fail every call with it.
/// </summary>
internal sealed class SharedRingCorruptException(string message) : IOException(message);
