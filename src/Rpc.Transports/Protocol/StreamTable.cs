namespace Rpc.Transports.Protocol;

/// <summary>
/// A connection's open streams by id. A plain dictionary under a lock: unlike a concurrent
/// dictionary it allocates nothing per stream once it has grown to the connection's working size.
/// Once <see cref="Close"/> has emptied it, it takes no more streams: a call that starts while its
/// connection closes fails at once instead of waiting on a stream nobody will ever end.
/// </summary>
internal sealed class StreamTable
{
    private readonly Dictionary<uint, CallStream> _streams = [];
    private readonly Lock _lock = new();
    private bool _closed;

    public bool IsClosed
    {
        get
        {
            lock (_lock)
            {
                return _closed;
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _streams.Count;
            }
        }
    }

    public bool TryGet(uint id, out CallStream stream)
    {
        lock (_lock)
        {
            return _streams.TryGetValue(id, out stream!);
        }
    }

    /// <summary>Adds <paramref name="stream"/>; false once the table is closed.</summary>
    public bool TryAdd(CallStream stream)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            _streams[stream.Id] = stream;
            return true;
        }
    }

    public void Remove(CallStream stream)
    {
        lock (_lock)
        {
            if (_streams.TryGetValue(stream.Id, out var current) && ReferenceEquals(current, stream))
            {
                _streams.Remove(stream.Id);
            }
        }
    }

    /// <summary>The open streams at this moment.</summary>
    public List<CallStream> Snapshot()
    {
        lock (_lock)
        {
            return [.. _streams.Values];
        }
    }

    /// <summary>Empties the table for good and returns what was open, for the caller to fail.</summary>
    public List<CallStream> Close()
    {
        lock (_lock)
        {
            _closed = true;
            List<CallStream> streams = [.. _streams.Values];
            _streams.Clear();
            return streams;
        }
    }
}
