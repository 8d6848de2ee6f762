using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Sockets;

/// <summary>
/// Accepts on a Unix socket, admits only the peers <see cref="ListenOptions"/> allow (checked by
/// the kernel's <c>SO_PEERCRED</c>), and removes its socket file when unbound.
/// </summary>
internal sealed class UnixSocketListener : SocketListener
{
    private readonly string _path;
    private readonly int _maxBufferSize;

    public UnixSocketListener(Socket socket, TransportAddress address, string path, ListenOptions options, int maxBufferSize)
        : base(socket, address, options, Timeout.InfiniteTimeSpan)
    {
        _path = path;
        _maxBufferSize = maxBufferSize;
        StartAccepting();
    }

    protected override ValueTask<ITransportConnection> CompleteAsync(Socket raw, CancellationToken cancellationToken)
    {
        var identity = PeerCredentials.Read(raw);
        LocalPeerPolicy.Admit(Options, identity);
        return ValueTask.FromResult<ITransportConnection>(
            new SocketConnection(raw, PeerCredentials.Describe("unix", identity, "unix:" + _path), _maxBufferSize, identity));
    }

    protected override string Describe(Socket raw) => PeerCredentials.Describe("unix", PeerCredentials.Read(raw), base.Describe(raw));

    protected override void OnUnbound()
    {
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Someone else removed or replaced it; either way it is no longer ours.
        }
    }
}
