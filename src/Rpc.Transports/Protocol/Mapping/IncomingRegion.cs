using System.Buffers;

namespace Rpc.Transports.Protocol.Mapping;

/// <summary>
/// A region of the peer's, mapped read-only here; it holds at most one message at a time, which the
/// reader parses straight from the mapping and then releases. Its state is guarded by
/// <see cref="IncomingRegions"/>'s lock.
/// </summary>
internal sealed unsafe class IncomingRegion : MappedMemory
{
    private readonly IncomingRegions _owner;

    public IncomingRegion(IncomingRegions owner, uint id, byte* address, int size)
        : base(address, size)
    {
        _owner = owner;
        Id = id;
    }

    public uint Id { get; }

    /// <summary>A message in it has not been released yet.</summary>
    public bool Busy { get; set; }

    /// <summary>The peer dropped it, or the connection ended, while a message was in it: unmap on release.</summary>
    public bool Orphaned { get; set; }

    /// <summary>The message's bytes, over the mapping: no copy.</summary>
    public ReadOnlySequence<byte> GetPayload(int length) => new(Memory[..length]);

    /// <summary>The message's bytes as a stream, for a decompressor.</summary>
    public Stream OpenRead(int length) => new UnmanagedMemoryStream(Address, length);

    /// <summary>Any thread, once: the message was parsed (or will never be); the peer may reuse the region.</summary>
    public void Release() => _owner.OnMessageReleased(this);
}
