using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Rpc.Transports;

namespace Rpc.Server.Http;

/// <summary>
/// A connection accepted on one of our local listeners (unix, tcp) whose first bytes were HTTP/2's
/// client preface, handed to Kestrel as its own: Kestrel reads and writes our transport's pipes
/// directly, with no second socket in between.
/// </summary>
/// <remarks>Kestrel owns it once accepted and disposes it, which disposes our transport.</remarks>
internal sealed class SniffedConnection : ConnectionContext, IConnectionItemsFeature, IConnectionIdFeature, IConnectionTransportFeature, IConnectionLifetimeFeature
{
    /// <summary>The key under which <see cref="Items"/> holds our <see cref="ITransportConnection"/> (for the peer a handler sees).</summary>
    public const string TransportKey = "Rpc.Transport";

    /// <summary>The key under which <see cref="Items"/> holds the scheme of the listener that accepted it.</summary>
    public const string ListenerSchemeKey = "Rpc.ListenerScheme";

    private static long s_nextId;

    private readonly ITransportConnection _transport;
    private readonly CancellationTokenSource _closed = new();
    private int _disposed;

    public SniffedConnection(ITransportConnection transport, TransportAddress listener)
    {
        _transport = transport;
        ConnectionId = "rpc-" + Interlocked.Increment(ref s_nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Our transports report what is unsent; bound Kestrel's writes by it (see BoundedOutput).
        Transport = transport is Rpc.Transports.Internal.TransportConnection medium
            ? new BoundedDuplexPipe(transport.Transport.Input, new BoundedOutput(transport.Transport.Output, medium.Backlog))
            : transport.Transport;
        ConnectionClosed = _closed.Token;
        Items = new Dictionary<object, object?> { [TransportKey] = transport, [ListenerSchemeKey] = listener.Scheme };
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
    }

    /// <summary>Our transport underneath.</summary>
    public ITransportConnection Inner => _transport;

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; }

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _transport.Abort(abortReason);
        CancelClosed();
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            CancelClosed();
            await _transport.DisposeAsync().ConfigureAwait(false);
            _closed.Dispose();
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    private sealed record BoundedDuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    private void CancelClosed()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
