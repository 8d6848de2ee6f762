using System.Net.Sockets;
using Rpc.Transports.Internal;
using Rpc.Transports.SharedMemory;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.MessageQueues;

/// <summary>
/// Accepts control sockets on the rendezvous path through the shared accept loop; each one's
/// handshake (credential check, queue creation) runs on a task of its own, bounded by
/// <see cref="MessageQueueTransportOptions.HandshakeTimeout"/>, as for shared memory.
/// </summary>
/// <remarks>
/// Threads: as <see cref="AcceptingListener{TRaw}"/>; a handshake task owns its control socket and,
/// once reserved, its two threads, until the connection it builds takes them over.
/// </remarks>
internal sealed class MessageQueueListener : SocketListener
{
    private readonly UnixSocketBinding _binding;
    private readonly string _name;
    private readonly MessageQueueTransportOptions _options;
    private readonly uint? _ownUserId;

    public MessageQueueListener(UnixSocketBinding binding, TransportAddress address, string name, MessageQueueTransportOptions options, ListenOptions listenOptions)
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
        // The client speaks first: a silent one holds no queue and no thread, only its handshake slot.
        await MqHandshake.ReceiveHelloAsync(raw, cancellationToken).ConfigureAwait(false);
        if (LocalPeerPolicy.Check(Options, peer, _ownUserId) is { } reason)
        {
            throw await RefusalAsync(raw, reason, cancellationToken).ConfigureAwait(false);
        }

        if (!MqThreads.TryReserve())
        {
            throw await RefusalAsync(raw, $"the server already has {ReceiveThreads.Max} receive threads; try again later", cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var queues = await MqHandshake.ServeAsync(raw, _name, _options, cancellationToken).ConfigureAwait(false);
            // The connection releases the threads from here on.
            return new MessageQueueConnection(raw, queues, PeerCredentials.Describe("mq", peer, "mq:" + _name), peer);
        }
        catch
        {
            MqThreads.Release();
            throw;
        }
    }

    protected override string Describe(Socket raw) => PeerCredentials.Describe("mq", PeerCredentials.Read(raw), base.Describe(raw));

    protected override void OnUnbound() => _binding.Release();

    /// <summary>Tells the client why, so it can say so; the exception returned is for the accept loop to log.</summary>
    private static async ValueTask<Exception> RefusalAsync(Socket raw, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await MqHandshake.RefuseAsync(raw, reason, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // The client never heard why; it is refused all the same, and the log says why.
        }

        return new UnauthorizedAccessException(reason);
    }
}
