namespace Rpc.Transports.SharedMemory;

/// <summary>
/// Where everything lives in a connection's shared segment. Fields written by different sides sit
/// 128 bytes apart, so a producer and a consumer never share a cache line (nor an adjacent pair,
/// which some CPUs prefetch together).
/// <code>
/// segment:
///   0      header: magic (u64) "RPCSHM01", version (u32), ring capacity (u32)
///   128    ring 0: client → server
///   128+R  ring 1: server → client          R = RingHeaderSize + capacity
///
/// ring:
///   +0     tail (u64)            written by the producer: bytes ever written
///   +128   head (u64)            written by the consumer: bytes ever read
///   +256   data signal (i32)     producer bumps it to wake a sleeping consumer
///   +260   consumer sleeping (i32)
///   +264   producer closed (i32) the producer sends no more (end of stream)
///   +384   space signal (i32)    consumer bumps it to wake a sleeping producer
///   +388   producer sleeping (i32)
///   +512   data: capacity bytes, a power of two; byte i of the stream is at i mod capacity
/// </code>
/// </summary>
internal static class RingLayout
{
    public const ulong Magic = 0x3130_4D48_5343_5052; // "RPCSHM01" little-endian
    public const int Version = 1;
    public const int HeaderSize = 128;
    public const int MagicOffset = 0;
    public const int VersionOffset = 8;
    public const int CapacityOffset = 12;

    public const int TailOffset = 0;
    public const int HeadOffset = 128;
    public const int DataSignalOffset = 256;
    public const int ConsumerSleepingOffset = 260;
    public const int ProducerClosedOffset = 264;
    public const int SpaceSignalOffset = 384;
    public const int ProducerSleepingOffset = 388;
    public const int RingHeaderSize = 512;

    public const int MinCapacity = 4096;
    public const int MaxCapacity = 1 << 30;

    public static long RingSize(int capacity) => RingHeaderSize + (long)capacity;

    public static long SegmentSize(int capacity) => HeaderSize + (2 * RingSize(capacity));

    public static long RingOffset(int ring, int capacity) => HeaderSize + (ring * RingSize(capacity));

    public static bool IsValidCapacity(long capacity) =>
        capacity is >= MinCapacity and <= MaxCapacity && (capacity & (capacity - 1)) == 0;
}
