using System.Net.Sockets;
using Rpc.Transports.Internal;
using Rpc.Transports.SharedMemory;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.MessageQueues;

/// <summary>
/// POSIX message queues: <c>mq://name</c>. A client meets the server on a Unix socket derived from
/// the name, in the same private directory as <c>shm://</c>; each connection then gets two queues,
/// one per direction, sized to the kernel's limits at run time. Linux only. See docs/message-queues.md.
/// </summary>
public sealed class MessageQueueTransport : ITransport
{
    // Clients waiting to be accepted by the kernel while the accept loop is busy or out of handshake slots.
    private const int Backlog = 512;

    private readonly MessageQueueTransportOptions _options;

    /// <summary>Creates the transport with <paramref name="options"/>.</summary>
    public MessageQueueTransport(MessageQueueTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MessageSize is < 64 or > (int)MqQueuePair.MaxMessageSize)
        {
            throw new ArgumentException($"MessageSize {options.MessageSize} is not between 64 and {MqQueuePair.MaxMessageSize} bytes.", nameof(options));
        }

        if (options.MaxMessages < 1)
        {
            throw new ArgumentException($"MaxMessages {options.MaxMessages} is not at least 1.", nameof(options));
        }

        _options = options;
    }

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Schemes { get; } = ["mq"];

    /// <inheritdoc/>
    public void Validate(TransportAddress address) => GetName(address);

    /// <inheritdoc/>
    public async ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = GetName(address);
        var path = GetRendezvousPath(address);
        var mode = options.FileMode ?? (UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var binding = await UnixSocketBinding.BindAsync(path, address, mode, Backlog, cancellationToken).ConfigureAwait(false);
        try
        {
            return new MessageQueueListener(binding, address, name, _options, options);
        }
        catch
        {
            binding.Release();
            throw;
        }
    }

    /// <inheritdoc/>
    public async ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken)
    {
        GetName(address);
        string path;
        try
        {
            path = GetRendezvousPath(address);
        }
        catch (IOException ex)
        {
            throw new ConnectionFailedException($"Could not connect to '{address}': {ex.Message}", ex);
        }

        var control = await UnixSocketTransport.ConnectSocketAsync(path, address, cancellationToken).ConfigureAwait(false);
        var reserved = false;
        try
        {
            // Whoever listens on the rendezvous socket receives every call: it must be this user.
            var server = SharedMemoryTransport.ReadPeer(control);
            var ownUserId = _options.UserIdOverride ?? LocalPeerPolicy.ServerUserId ?? throw new PlatformNotSupportedException("The message-queue transport needs Linux.");
            if (server.UserId != ownUserId)
            {
                throw new IOException($"the listener on '{path}' runs as uid {server.UserId}, not as this user ({ownUserId}); refusing to trust it");
            }

            if (!MqThreads.TryReserve())
            {
                throw new IOException($"this process already has {ReceiveThreads.Max} receive threads");
            }

            reserved = true;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.HandshakeTimeout);
            var queues = await MqHandshake.JoinAsync(control, ownUserId, timeout.Token).ConfigureAwait(false);
            var connection = new MessageQueueConnection(control, queues, address.ToString(), server);
            reserved = false; // the connection releases them now
            return connection;
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            control.Dispose();
            if (reserved)
            {
                MqThreads.Release();
            }

            cancellationToken.ThrowIfCancellationRequested();
            throw new ConnectionFailedException($"Could not set up message queues with '{address}' (rendezvous '{path}'): {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The rendezvous socket path for <paramref name="address"/>, in this user's private rendezvous
    /// directory (created if needed; the same directory as <c>shm://</c>'s).
    /// </summary>
    /// <exception cref="IOException">The rendezvous directory is not safe to use; the message says why.</exception>
    public string GetRendezvousPath(TransportAddress address) =>
        Path.Combine(RendezvousDirectory.Get(_options.RendezvousDirectory), $"mq-{GetName(address)}.sock");

    private static string GetName(TransportAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var name = address.Target;
        if (address.Scheme != "mq" || name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"'{address}' is not a message-queue address (a name of letters, digits, '-', '_' or '.'). {TransportRegistry.AcceptedForms}", nameof(address));
        }

        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The message-queue transport needs Linux.");
        }

        return name;
    }
}
