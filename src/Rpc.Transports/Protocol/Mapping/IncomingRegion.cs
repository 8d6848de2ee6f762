using System.Buffers;

namespace Rpc.Transports.Protocol.Mapping;

/// <summary>
/// A region of the peer's, mapped read-only here; it holds at most one message at a time, which the
/// reader parses straight from the mapping and then releases. Its state is guarded by
/// <see cref="IncomingRegions"/>'s lock.
/// </summary>
internal sealed unsafe class IncomingRegion : MemoryManager<byte>
{
    private readonly IncomingRegions _owner;

    public IncomingRegion(IncomingRegions owner, uint id, byte* address, int size)
    {
        _owner = owner;
        Id = id;
        Address = address;
        Size = size;
    }

    public uint Id { get; }

    public byte* Address { get; }

    public int Size { get; }

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

    public override Span<byte> GetSpan() => new(Address, Size);

    public override MemoryHandle Pin(int elementIndex = 0) => new(Address + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        // The mapping's life is the owner's to end (IncomingRegions), not the memory manager's.
    }
}
