using System.Buffers;
using System.Collections.Concurrent;

namespace Rpc.Tests.Protocol;

/// <summary>
/// A pool that remembers which of its arrays are out: returning one that is not (twice, or never
/// rented here) is recorded instead of corrupting the shared pool, so a test can assert none was.
/// </summary>
internal sealed class CheckingArrayPool : ArrayPool<byte>
{
    private readonly ConcurrentDictionary<byte[], byte> _rented = new(ReferenceEqualityComparer.Instance);
    private int _badReturns;
    private int _returns;

    public int BadReturns => Volatile.Read(ref _badReturns);

    public int Returns => Volatile.Read(ref _returns);

    public int Outstanding => _rented.Count;

    public override byte[] Rent(int minimumLength)
    {
        // Fresh arrays, so none is shared with other tests; sized as the shared pool's buckets,
        // because a whole message's array passes to its reader, who returns it to the shared pool.
        var array = new byte[System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(minimumLength, 16))];
        _rented[array] = 0;
        return array;
    }

    public override void Return(byte[] array, bool clearArray = false)
    {
        Interlocked.Increment(ref _returns);
        if (!_rented.TryRemove(array, out _))
        {
            Interlocked.Increment(ref _badReturns);
        }
    }
}
