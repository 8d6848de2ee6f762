namespace Rpc.Transports.Protocol;

/// <summary>
/// A connection's open streams by id. A plain dictionary under a lock: unlike a concurrent
/// dictionary it allocates nothing per stream once it has grown to the connection's working size.
/// </summary>
internal sealed class StreamTable
{
    private readonly Dictionary<uint, CallStream> _streams = [];
    private readonly Lock _lock = new();

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

    public void Add(CallStream stream)
    {
        lock (_lock)
        {
            _streams[stream.Id] = stream;
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

    /// <summary>The open streams at this moment, optionally emptying the table.</summary>
    public List<CallStream> Snapshot(bool clear = false)
    {
        lock (_lock)
        {
            var streams = _streams.Values.ToList();
            if (clear)
            {
                _streams.Clear();
            }

            return streams;
        }
    }
}
