using System.Buffers;

namespace Rpc.Transports.Protocol.Mapping;

/// <summary>
/// A mapped region seen as memory, so a serializer can write into it and a parser read from it
/// through <see cref="Memory{T}"/> and spans. The mapping's life belongs to whoever made it
/// (<see cref="OutgoingRegions"/>, <see cref="IncomingRegions"/>), never to this manager.
/// </summary>
internal abstract unsafe class MappedMemory : MemoryManager<byte>
{
    protected MappedMemory(byte* address, int size)
    {
        Address = address;
        Size = size;
    }

    public byte* Address { get; }

    public int Size { get; }

    public override Span<byte> GetSpan() => new(Address, Size);

    public override MemoryHandle Pin(int elementIndex = 0) => new(Address + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
