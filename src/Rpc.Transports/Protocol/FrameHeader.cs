using System.Buffers.Binary;

namespace Rpc.Transports.Protocol;

/// <summary>
/// The 10-byte frame header: payload length (u32), type (u8), flags (u8), stream id (u32), big-endian.
/// </summary>
internal readonly record struct FrameHeader(int Length, FrameType Type, byte Flags, uint StreamId)
{
    public const int Size = 10;

    public bool HasFlag(byte flag) => (Flags & flag) != 0;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)Length);
        destination[4] = (byte)Type;
        destination[5] = Flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], StreamId);
    }

    public static FrameHeader Read(ReadOnlySpan<byte> source, out uint rawLength)
    {
        rawLength = BinaryPrimitives.ReadUInt32BigEndian(source);
        return new FrameHeader(
            (int)Math.Min(rawLength, int.MaxValue),
            (FrameType)source[4],
            source[5],
            BinaryPrimitives.ReadUInt32BigEndian(source[6..]));
    }
}
