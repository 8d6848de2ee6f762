using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Sockets;

/// <summary>
/// Accepts on a Unix socket, admits only the peers <see cref="ListenOptions"/> allow (checked by
/// the kernel's <c>SO_PEERCRED</c>), and gives its path back when unbound.
/// </summary>
internal sealed class UnixSocketListener : SocketListener
{
    private readonly UnixSocketBinding _binding;
    private readonly int _maxBufferSize;
    private readonly int _mappedPayloadThreshold;
    private readonly TimeSpan _spin;

    public UnixSocketListener(UnixSocketBinding binding, TransportAddress address, ListenOptions options, int maxBufferSize, int mappedPayloadThreshold, TimeSpan spin)
        : base(binding.Socket, address, options, Timeout.InfiniteTimeSpan)
    {
        _binding = binding;
        _maxBufferSize = maxBufferSize;
        _mappedPayloadThreshold = mappedPayloadThreshold;
        _spin = spin;
        StartAccepting();
    }

    protected override ValueTask<ITransportConnection> CompleteAsync(Socket raw, CancellationToken cancellationToken)
    {
        var identity = PeerCredentials.Read(raw);
        LocalPeerPolicy.Admit(Options, identity);
        return ValueTask.FromResult<ITransportConnection>(
            new UnixSocketConnection(raw, PeerCredentials.Describe("unix", identity, "unix:" + _binding.FullPath), _maxBufferSize, identity, _mappedPayloadThreshold, _spin));
    }

    protected override string Describe(Socket raw) => PeerCredentials.Describe("unix", PeerCredentials.Read(raw), base.Describe(raw));

    protected override void OnUnbound() => _binding.Release();
}
