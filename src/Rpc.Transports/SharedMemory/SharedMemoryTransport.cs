using System.Net.Sockets;
using Rpc.Transports.Internal;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// Shared memory: <c>shm://name</c>. A client meets the server on a Unix socket derived from the
/// name; each connection then gets a segment of two rings, one per direction. Linux only (it
/// sleeps on futexes). See docs/shared-memory.md.
/// </summary>
public sealed class SharedMemoryTransport : ITransport
{
    // Clients waiting to be accepted by the kernel while the accept loop is busy or out of handshake slots.
    private const int Backlog = 512;

    private readonly SharedMemoryTransportOptions _options;

    /// <summary>Creates the transport with <paramref name="options"/>.</summary>
    public SharedMemoryTransport(SharedMemoryTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!RingLayout.IsValidCapacity(options.RingCapacity))
        {
            throw new ArgumentException($"RingCapacity {options.RingCapacity} is not a power of two between {RingLayout.MinCapacity} and {RingLayout.MaxCapacity}.", nameof(options));
        }

        _options = options;
    }

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Schemes { get; } = ["shm"];

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
            return new SharedMemoryListener(binding, address, name, _options, options);
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
            var server = ReadPeer(control);
            var ownUserId = _options.UserIdOverride ?? LocalPeerPolicy.ServerUserId ?? throw new PlatformNotSupportedException("The shared-memory transport needs Linux.");
            if (server.UserId != ownUserId)
            {
                throw new IOException($"the listener on '{path}' runs as uid {server.UserId}, not as this user ({ownUserId}); refusing to trust it");
            }

            // The connection's receive thread counts against the process's cap.
            if (!ReceiveThreads.TryReserve())
            {
                throw new IOException($"this process already has {ReceiveThreads.Max} receive threads");
            }

            reserved = true;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.HandshakeTimeout);
            var segment = await SharedMemoryHandshake.JoinAsync(control, ownUserId, timeout.Token).ConfigureAwait(false);
            var connection = new SharedMemoryConnection(control, segment, isServer: false, _options.SpinDuration, address.ToString(), server, _options.MappedPayloadThreshold);
            reserved = false; // the connection releases it now
            return connection;
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            control.Dispose();
            if (reserved)
            {
                ReceiveThreads.Release();
            }

            cancellationToken.ThrowIfCancellationRequested();
            throw new ConnectionFailedException($"Could not set up shared memory with '{address}' (rendezvous '{path}'): {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The rendezvous socket path for <paramref name="address"/>, in this user's private rendezvous
    /// directory (created if needed; see docs/shared-memory.md).
    /// </summary>
    /// <exception cref="IOException">The rendezvous directory is not safe to use; the message says why.</exception>
    public string GetRendezvousPath(TransportAddress address) =>
        Path.Combine(RendezvousDirectory.Get(_options.RendezvousDirectory), $"shm-{GetName(address)}.sock");

    /// <summary>Who is at the other end of a control socket; shared memory trusts no peer it cannot name.</summary>
    internal static PeerIdentity ReadPeer(Socket control) =>
        PeerCredentials.Read(control) ?? throw new IOException("the system cannot tell who the peer is (SO_PEERCRED failed); refusing it");

    private static string GetName(TransportAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var name = address.Target;
        if (address.Scheme != "shm" || name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"'{address}' is not a shared-memory address (a name of letters, digits, '-', '_' or '.'). {TransportRegistry.AcceptedForms}", nameof(address));
        }

        if (!Futex.IsSupported)
        {
            throw new PlatformNotSupportedException("The shared-memory transport needs Linux futexes (x64 or Arm64).");
        }

        return name;
    }
}
