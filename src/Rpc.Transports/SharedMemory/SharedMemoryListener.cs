using System.Net.Sockets;
using Rpc.Transports.Internal;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// Accepts control sockets on the rendezvous path through the shared accept loop
/// (<see cref="AcceptingListener{TRaw}"/>); each one's handshake (credential check, segment
/// hand-over) runs on a task of its own with <see cref="SharedMemoryTransportOptions.HandshakeTimeout"/>,
/// so a silent or slow client never holds up the next accept.
/// </summary>
/// <remarks>
/// Threads: as <see cref="AcceptingListener{TRaw}"/>; a handshake task owns its control socket and,
/// once reserved, its receive thread, until the connection it builds takes both over.
/// </remarks>
internal sealed class SharedMemoryListener : SocketListener
{
    private readonly UnixSocketBinding _binding;
    private readonly string _name;
    private readonly SharedMemoryTransportOptions _options;
    private readonly uint? _ownUserId;

    public SharedMemoryListener(UnixSocketBinding binding, TransportAddress address, string name, SharedMemoryTransportOptions options, ListenOptions listenOptions)
        : base(binding.Socket, address, listenOptions, options.HandshakeTimeout)
    {
        _binding = binding;
        _name = name;
        _options = options;
        _ownUserId = options.UserIdOverride ?? LocalPeerPolicy.ServerUserId;
        StartAccepting();
    }

    protected override async ValueTask<ITransportConnection> CompleteAsync(Socket raw, CancellationToken cancellationToken)
    {
        var peer = SharedMemoryTransport.ReadPeer(raw);
        // The client speaks first: a silent one holds no segment and no receive thread, only its
        // handshake slot until the timeout.
        await SharedMemoryHandshake.ReceiveHelloAsync(raw, cancellationToken).ConfigureAwait(false);
        if (LocalPeerPolicy.Check(Options, peer, _ownUserId) is { } reason)
        {
            throw await RefusalAsync(raw, reason, cancellationToken).ConfigureAwait(false);
        }

        // The connection's receive thread counts against the process's cap; past it, refuse.
        if (!ReceiveThreads.TryReserve())
        {
            throw await RefusalAsync(raw, $"the server already has {ReceiveThreads.Max} receive threads; try again later", cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var segment = await SharedMemoryHandshake.ServeAsync(raw, _name, _options.RingCapacity, cancellationToken).ConfigureAwait(false);
            // The connection releases the receive thread from here on.
            return new SharedMemoryConnection(raw, segment, isServer: true, _options.SpinDuration, PeerCredentials.Describe("shm", peer, "shm:" + _name), peer, _options.MappedPayloadThreshold);
        }
        catch
        {
            ReceiveThreads.Release();
            throw;
        }
    }

    protected override string Describe(Socket raw) => PeerCredentials.Describe("shm", PeerCredentials.Read(raw), base.Describe(raw));

    protected override void OnUnbound() => _binding.Release();

    /// <summary>Tells the client why, so it can say so; the exception returned is for the accept loop to log.</summary>
    private static async ValueTask<Exception> RefusalAsync(Socket raw, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await SharedMemoryHandshake.RefuseAsync(raw, reason, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // The client never heard why; it is refused all the same, and the log says why.
        }

        return new UnauthorizedAccessException(reason);
    }
}
