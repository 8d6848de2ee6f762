using Google.Protobuf;

namespace Rpc.TestServer;

/// <summary>
/// Bytes both sides can compute from a seed, so a test checks every byte of a large message
/// without sending the expected copy. The tests compile this same file.
/// </summary>
public static class PatternFill
{
    public static ByteString Create(int size, int seed)
    {
        var bytes = new byte[size];
        Fill(bytes, seed);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    public static void Fill(Span<byte> bytes, int seed)
    {
        // An xorshift walk: every position differs from its neighbours and from other seeds.
        var state = (uint)seed * 2654435761u | 1;
        for (var i = 0; i < bytes.Length; i++)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            bytes[i] = (byte)state;
        }
    }
}
