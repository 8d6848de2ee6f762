using Grpc.Core;
using Rpc.Transports;
using Rpc.Transports.Protocol;

namespace Rpc.Server.Internal;

/// <summary>
/// One accepted connection: runs its protocol and starts each call's handler on the connection's
/// receive thread once the frames that came with it are parsed (or on the thread pool, when the
/// medium has no receive thread), or straight on the read loop when the server prefers inline scheduling.
/// </summary>
/// <remarks><see cref="RunAsync"/> owns the connection and disposes it when it ends.</remarks>
#pragma warning disable CA1001
internal sealed class ServerConnection : ICallAcceptor
{
    private readonly ServerCallEnvironment _environment;
    private readonly MultiplexedConnection _connection;
    // Starts a call on the receive thread after the frames that came with it are parsed; the
    // watchdog rescues the connection from a handler that blocks there (Transports' DeferredWork).
    private static readonly Action<object?> s_execute = static call => ((ServerCall)call!).Execute();

    // Read once per connection: a server's option changed later affects only new connections.
    private readonly bool _inline;

    public ServerConnection(ServerCallEnvironment environment, ITransportConnection transport)
    {
        _environment = environment;
        var options = environment.Options.Limits.ApplyTo(new ConnectionOptions
        {
            MaxReceiveMessageSize = environment.Options.MaxReceiveMessageSize,
            HandshakeTimeout = environment.Options.HandshakeTimeout,
            Settings = new ConnectionSettings { MaxConcurrentStreams = environment.Options.MaxConcurrentCallsPerConnection },
            InlineContinuations = environment.Options.UnsafePreferInlineScheduling,
        });
        _inline = environment.Options.UnsafePreferInlineScheduling;
        _connection = new MultiplexedConnection(transport, options, this, environment.Logger);
    }

    /// <summary>Runs until the connection closes, then releases it.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            await _connection.StartAsync(stopping).ConfigureAwait(false);
            await _connection.Closed.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            ServerLog.HandshakeFailed(_environment.Logger, _connection.Peer, ex.Message);
        }
        finally
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Who is on the other end, as the transport describes it.</summary>
    public string Peer => _connection.Peer;

    public ValueTask SendGoAwayAsync() => _connection.TrySendGoAwayAsync(new Status(StatusCode.Unavailable, "The server is shutting down."));

    /// <summary>Ends the connection; <see cref="RunAsync"/> then completes.</summary>
    public void Close() => _connection.Close();

    /// <summary>Tears the connection down at once, for a peer that does not let it close.</summary>
    public void Abort(Exception reason) => _connection.Abort(reason);

    // Every call releases its stream's slot when its handler is done (ServerCall.RunAsync): a
    // client that cancels streams as fast as it opens them cannot pile up handler work beyond the limit.
    bool ICallAcceptor.ReleasesSlots => true;

    string? ICallAcceptor.FindKnownPath(ReadOnlySpan<char> path) => _environment.Methods.FindPath(path);

    void ICallAcceptor.OnCallStarted(MultiplexedConnection connection, CallStream stream, CallStart start)
    {
        ServerCall call = _environment.Methods.Find(start.Method) is { } method
            ? method.CreateCall(_environment, stream, start)
            : new UnimplementedCall(_environment, stream, start);
        // Tracked before it is queued: a shutdown that starts now must wait for this call, which
        // the client was told (by GOAWAY's last stream id) will run, not kill it unseen.
        _environment.Track(call);
        if (_inline)
        {
            // UnsafePreferInlineScheduling: the handler runs on this read loop up to its first
            // await that does not complete at once; a handler that blocks stalls this connection only.
            call.Execute();
        }
        else if (_environment.IsScheduleReplaced || !_connection.TryDefer(s_execute, call))
        {
            _environment.Schedule(call);
        }
    }
}
#pragma warning restore CA1001
