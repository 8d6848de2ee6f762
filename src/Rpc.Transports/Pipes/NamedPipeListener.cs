using System.IO.Pipes;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Pipes;

/// <summary>
/// Keeps one server instance of the pipe waiting; each client that connects gets it and a new one
/// waits. Where the pipe is a Unix socket (Linux, macOS) the peer's credentials decide admission.
/// Every instance comes from and goes back to the listener's <see cref="PipeNameClaim"/>.
/// </summary>
internal sealed class NamedPipeListener : AcceptingListener<NamedPipeServerStream>
{
    private readonly PipeNameClaim _claim;
    private readonly string _name;

    // Owned by the accept loop; Unbind takes it away from any thread to wake a waiting accept.
    private NamedPipeServerStream? _waiting;

    public NamedPipeListener(PipeNameClaim claim, string name, TransportAddress address, ListenOptions options)
        : base(address, options, Timeout.InfiniteTimeSpan)
    {
        _claim = claim;
        _name = name;
        StartAccepting();
    }

    protected override async ValueTask<NamedPipeServerStream> AcceptRawAsync(CancellationToken cancellationToken)
    {
        var server = _waiting ??= _claim.CreateInstance();
        try
        {
            await server.WaitForConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // A failed instance (a client that gave up mid-connect, a refused user) is broken; the next accept makes a fresh one.
            if (Interlocked.CompareExchange(ref _waiting, null, server) == server)
            {
                _claim.Dispose(server);
            }

            throw;
        }

        Interlocked.CompareExchange(ref _waiting, null, server);
        return server;
    }

    protected override ValueTask<ITransportConnection> CompleteAsync(NamedPipeServerStream raw, CancellationToken cancellationToken)
    {
        var identity = ReadIdentity(raw);
        LocalPeerPolicy.Admit(Options, identity);
        var peer = PeerCredentials.Describe("pipe", identity, "pipe:" + _name);
        return ValueTask.FromResult<ITransportConnection>(
            new StreamConnection(raw, raw, peer, NamedPipeTransport.BufferSize, onClose: () => _claim.Dispose(raw), identity: identity));
    }

    protected override void Discard(NamedPipeServerStream raw) => _claim.Dispose(raw);

    protected override void Unbind()
    {
        if (Interlocked.Exchange(ref _waiting, null) is { } waiting)
        {
            _claim.Dispose(waiting);
        }

        _claim.Close();
    }

    protected override void OnUnbound()
    {
        // An instance the loop made as it was being unbound (its accept then saw the cancellation).
        if (Interlocked.Exchange(ref _waiting, null) is { } stray)
        {
            _claim.Dispose(stray);
        }
    }

    protected override string Describe(NamedPipeServerStream raw) => PeerCredentials.Describe("pipe", ReadIdentity(raw), "a peer");

    /// <summary>On Linux and macOS a named pipe's handle is its socket's descriptor, so the kernel can name the peer.</summary>
    internal static PeerIdentity? ReadIdentity(PipeStream pipe) => OperatingSystem.IsWindows() ? null : PeerCredentials.Read(pipe.SafePipeHandle);
}
