using System.IO.Pipes;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Pipes;

/// <summary>
/// Keeps one server instance of the pipe waiting; each client that connects gets it and a new one
/// waits. Where the pipe is a Unix socket (Linux, macOS) the peer's credentials decide admission.
/// </summary>
internal sealed class NamedPipeListener : AcceptingListener<NamedPipeServerStream>
{
    private readonly string _name;
    private readonly bool _currentUserOnly;

    // Owned by the accept loop; Unbind takes it away from any thread to wake a waiting accept.
    private NamedPipeServerStream? _waiting;

    public NamedPipeListener(string name, TransportAddress address, ListenOptions options, NamedPipeServerStream first, bool currentUserOnly)
        : base(address, options, Timeout.InfiniteTimeSpan)
    {
        _name = name;
        _waiting = first;
        _currentUserOnly = currentUserOnly;
        StartAccepting();
    }

    /// <summary>
    /// A new server instance of <paramref name="name"/>. <paramref name="currentUserOnly"/> makes
    /// the runtime refuse other users itself; without it the listen options decide.
    /// </summary>
    public static NamedPipeServerStream CreateServerStream(string name, bool currentUserOnly)
    {
        try
        {
            return new NamedPipeServerStream(name, PipeDirection.InOut, NamedPipeServerStream.MaxAllowedServerInstances,
                PipeTransmissionMode.Byte, PipeOptions.Asynchronous | (currentUserOnly ? PipeOptions.CurrentUserOnly : PipeOptions.None));
        }
        catch (IOException ex)
        {
            throw new AddressInUseException($"Address in use: 'pipe://{name}': {ex.Message}", ex);
        }
    }

    protected override async ValueTask<NamedPipeServerStream> AcceptRawAsync(CancellationToken cancellationToken)
    {
        var server = _waiting ??= CreateServerStream(_name, _currentUserOnly);
        try
        {
            await server.WaitForConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // A failed instance (a client that gave up mid-connect, a refused user) is broken; the next accept makes a fresh one.
            if (Interlocked.CompareExchange(ref _waiting, null, server) == server)
            {
                await server.DisposeAsync().ConfigureAwait(false);
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
        return ValueTask.FromResult<ITransportConnection>(new StreamConnection(raw, raw, peer, NamedPipeTransport.BufferSize, identity: identity));
    }

    protected override void Discard(NamedPipeServerStream raw) => raw.Dispose();

    protected override void Unbind() => Interlocked.Exchange(ref _waiting, null)?.Dispose();

    protected override string Describe(NamedPipeServerStream raw) => PeerCredentials.Describe("pipe", ReadIdentity(raw), "a peer");

    /// <summary>On Linux and macOS a named pipe's handle is its socket's descriptor, so the kernel can name the peer.</summary>
    internal static PeerIdentity? ReadIdentity(PipeStream pipe) => OperatingSystem.IsWindows() ? null : PeerCredentials.Read(pipe.SafePipeHandle);
}
