using Microsoft.Extensions.Logging;
using Rpc.Client;

namespace Rpc.Client.Hosting;

/// <summary>
/// The container's channels: one <see cref="RpcChannel"/> per address, made on the first client
/// for it and shared by every client of that address, disposed with the container.
/// </summary>
/// <remarks>
/// Threads: clients may be created on any thread; <see cref="_lock"/> guards the table, and a
/// disposed pool makes no more channels.
/// </remarks>
internal sealed class RpcChannelPool(RpcClientRegistrations registrations, ILoggerFactory? loggerFactory) : IAsyncDisposable, IDisposable
{
    private readonly Dictionary<string, RpcChannel> _channels = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>The channel to <paramref name="address"/> (as registered, normalised).</summary>
    public RpcChannel Get(string address)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_channels.TryGetValue(address, out var channel))
            {
                var options = new RpcChannelOptions();
                foreach (var configure in registrations.Channels.GetValueOrDefault(address) ?? [])
                {
                    configure(options);
                }

                options.LoggerFactory ??= loggerFactory;
                channel = RpcChannel.ForAddress(address, options);
                _channels.Add(address, channel);
            }

            return channel;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Each channel's dispose is bounded by its CloseTimeout; they close side by side.
        await Task.WhenAll(TakeAll().Select(c => c.DisposeAsync().AsTask())).ConfigureAwait(false);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private List<RpcChannel> TakeAll()
    {
        lock (_lock)
        {
            _disposed = true;
            var channels = _channels.Values.ToList();
            _channels.Clear();
            return channels;
        }
    }
}
