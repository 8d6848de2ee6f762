using Grpc.Core;
using Microsoft.Extensions.Logging;
using Rpc.Client.Internal;
using Rpc.Transports;

namespace Rpc.Client.Http;

/// <summary>
/// Moves an http(s) channel's calls to a local transport when the server advertises one that this
/// process may trust (docs/same-host-upgrade.md), and back to HTTP/2 when it goes away.
/// </summary>
/// <remarks>
/// Threads: <see cref="OnAdvertisement"/> runs on the HTTP handler's response path and
/// <see cref="TryGetInvoker"/> on every caller's thread; neither waits. The one connect attempt
/// runs on the thread pool. All three meet under <see cref="_lock"/>, held only for field updates;
/// <see cref="_active"/> is also read without it, on the call path.
/// A call is only routed locally while a verified connection takes new calls, so no call ever
/// waits for the upgrade: until it is up, and after it is gone, calls go over HTTP/2.
/// </remarks>
internal sealed class SameHostUpgrade : IAsyncDisposable
{
    private readonly string _target;
    private readonly RpcChannelOptions _options;
    private readonly TransportRegistry _transports;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _disposed = new();
    // Managers of local connections that fell out of use but may still finish calls; disposed
    // once they hold no connection (checked at each attempt) or with the channel.
    private readonly List<ConnectionManager> _retired = [];

    private Active? _active;
    private Task? _attempt;
    private long _notBeforeTimestamp;
    private TimeSpan _backoff;
    private string? _declinedValue;

    public SameHostUpgrade(string target, RpcChannelOptions options, ILogger logger)
    {
        _target = target;
        _options = options;
        _transports = options.Transports ?? TransportRegistry.Default;
        _logger = logger;
        _backoff = options.InitialReconnectBackoff;
    }

    /// <summary>Whether a response's advertisement is worth reading now: no local connection and no attempt under way.</summary>
    public bool WantsAdvertisement => Volatile.Read(ref _active) is null && Volatile.Read(ref _attempt) is null && !_disposed.IsCancellationRequested;

    /// <summary>The invoker of the verified local connection when it takes new calls; otherwise null, and the call goes over HTTP/2.</summary>
    public CallInvoker? TryGetInvoker()
    {
        var active = Volatile.Read(ref _active);
        if (active is null)
        {
            return null;
        }

        if (active.Connections.TryGetCurrent(out _))
        {
            return active.Invoker;
        }

        lock (_lock)
        {
            if (_active == active)
            {
                // Calls still running on it finish there (a server that sent GOAWAY drains them);
                // the manager is kept until its connection is gone.
                _active = null;
                _retired.Add(active.Connections);
                UpgradeLog.FellBack(_logger, _target, active.Endpoint);
            }
        }

        return null;
    }

    /// <summary>Reads one response's advertisement and, when it qualifies, starts connecting in the background.</summary>
    public void OnAdvertisement(string? value)
    {
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested || _active is not null || _attempt is not null
                || value == _declinedValue
                || TimeProvider.System.GetTimestamp() < _notBeforeTimestamp)
            {
                return;
            }

            var candidates = Qualify(value, out var advertisement, out var reason);
            if (candidates is null)
            {
                // The same header says the same thing every time: say it once.
                _declinedValue = value;
                UpgradeLog.Declined(_logger, _target, reason!);
                return;
            }

            _attempt = Task.Run(() => AttemptAsync(advertisement!, candidates));
        }
    }

    /// <summary>The endpoints to try, fastest first, when the advertisement may be trusted; otherwise null and why not.</summary>
    private static List<TransportAddress>? Qualify(string? value, out LocalEndpoints? advertisement, out string? reason)
    {
        reason = null;
        if (!LocalEndpoints.TryParse(value, out advertisement))
        {
            reason = $"the advertisement '{value?[..Math.Min(value.Length, 200)]}' is malformed or of an unknown version";
            return null;
        }

        if (advertisement!.HostId != LocalEndpoints.CurrentHostId)
        {
            reason = "the server runs on another host";
            return null;
        }

        if (ProcessUser.EffectiveUserId is not { } self)
        {
            reason = "this platform cannot check a local peer's user";
            return null;
        }

        if (advertisement.UserId != self)
        {
            reason = $"the server runs as uid {advertisement.UserId}, this process as uid {self}: an upgrade never crosses users";
            return null;
        }

        var candidates = new List<TransportAddress>();
        foreach (var scheme in (ReadOnlySpan<string>)["shm", "unix"])
        {
            foreach (var endpoint in advertisement.Endpoints)
            {
                try
                {
                    var address = TransportAddress.Parse(endpoint);
                    if (address.Scheme == scheme)
                    {
                        candidates.Add(address);
                    }
                }
                catch (ArgumentException)
                {
                    // Not an address: skipped, as an endpoint this client does not support is.
                }
            }
        }

        if (candidates.Count == 0)
        {
            reason = "none of the advertised endpoints is shm:// or unix://";
            return null;
        }

        return candidates;
    }

    private async Task AttemptAsync(LocalEndpoints advertisement, List<TransportAddress> candidates)
    {
        try
        {
            await PruneRetiredAsync().ConfigureAwait(false);
            foreach (var address in candidates)
            {
                if (await TryConnectAsync(address, advertisement.UserId).ConfigureAwait(false))
                {
                    return;
                }
            }

            lock (_lock)
            {
                _notBeforeTimestamp = TimeProvider.System.GetTimestamp() + (long)(_backoff.TotalSeconds * TimeProvider.System.TimestampFrequency);
                _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _options.MaxReconnectBackoff.Ticks));
            }
        }
        catch (Exception ex)
        {
            // Nothing here may escape to the thread pool; the channel goes on over HTTP/2.
            UpgradeLog.EndpointFailed(_logger, _target, "(any)", $"{ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            lock (_lock)
            {
                _attempt = null;
            }
        }
    }

    /// <summary>Connects to one endpoint and, when its peer is the advertised user, routes later calls there.</summary>
    private async Task<bool> TryConnectAsync(TransportAddress address, uint userId)
    {
        ConnectionManager connections;
        try
        {
            var transport = _transports.Resolve(address);
            connections = new ConnectionManager(address, transport, _options, _logger, peer => CheckPeer(peer, userId));
        }
        catch (ArgumentException ex)
        {
            UpgradeLog.EndpointFailed(_logger, _target, address.ToString(), ex.Message);
            return false;
        }

        try
        {
            // Bounded by ConnectTimeout inside the manager, and by the channel's dispose.
            await connections.GetConnectionAsync(_disposed.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException or ObjectDisposedException)
        {
            UpgradeLog.EndpointFailed(_logger, _target, address.ToString(), ex is RpcException rpc ? rpc.Status.Detail : ex.Message);
            await connections.DisposeAsync().ConfigureAwait(false);
            return false;
        }

        lock (_lock)
        {
            if (!_disposed.IsCancellationRequested)
            {
                _active = new Active(address.ToString(), connections, new RpcCallInvoker(connections, _options));
                _backoff = _options.InitialReconnectBackoff;
                _notBeforeTimestamp = 0;
                UpgradeLog.Upgraded(_logger, _target, address.ToString());
                return true;
            }
        }

        await connections.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>The second uid check: whoever accepted the connection must be the advertised user, as the kernel reports it.</summary>
    private static string? CheckPeer(PeerIdentity? peer, uint userId) => peer?.UserId switch
    {
        null => "the transport cannot tell which user serves this endpoint",
        { } uid when uid != userId => $"the endpoint is served by uid {uid}, not by the advertised uid {userId}",
        _ => null,
    };

    private async Task PruneRetiredAsync()
    {
        List<ConnectionManager> idle;
        lock (_lock)
        {
            idle = _retired.Where(m => m.OpenConnectionCount == 0).ToList();
            _retired.RemoveAll(idle.Contains);
        }

        foreach (var manager in idle)
        {
            await manager.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops any attempt and closes the local connections, within about twice <see cref="RpcChannelOptions.CloseTimeout"/> plus that again for an attempt that ignores cancellation.</summary>
    public async ValueTask DisposeAsync()
    {
        Task? attempt;
        List<ConnectionManager> managers;
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            _disposed.Cancel();
            attempt = _attempt;
            managers = [.. _retired];
            if (_active is { } active)
            {
                managers.Add(active.Connections);
            }

            _active = null;
            _retired.Clear();
        }

        if (attempt is not null)
        {
            await attempt.WaitAsync(_options.CloseTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await Task.WhenAll(managers.Select(m => m.DisposeAsync().AsTask())).ConfigureAwait(false);
    }

    private sealed record Active(string Endpoint, ConnectionManager Connections, CallInvoker Invoker);
}
