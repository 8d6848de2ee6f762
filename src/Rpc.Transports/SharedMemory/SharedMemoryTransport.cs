using System.Net.Sockets;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// Shared memory: <c>shm://name</c>. A client meets the server on a Unix socket derived from the
/// name; each connection then gets a segment of two rings, one per direction. Linux only (it
/// sleeps on futexes). See docs/shared-memory.md.
/// </summary>
public sealed class SharedMemoryTransport : ITransport
{
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
    public void Validate(TransportAddress address) => Resolve(address);

    /// <inheritdoc/>
    public async ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken)
    {
        var (name, path) = Resolve(address);
        var socket = await UnixSocketTransport.BindSocketAsync(path, UnixFileMode.UserRead | UnixFileMode.UserWrite, 512, cancellationToken).ConfigureAwait(false);
        return new SharedMemoryListener(socket, address, name, path, _options);
    }

    /// <inheritdoc/>
    public async ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken)
    {
        var (_, path) = Resolve(address);
        var control = await UnixSocketTransport.ConnectSocketAsync(path, address, cancellationToken).ConfigureAwait(false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.HandshakeTimeout);
            var segment = await SharedMemoryHandshake.JoinAsync(control, timeout.Token).ConfigureAwait(false);
            return new SharedMemoryConnection(control, segment, isServer: false, _options.SpinDuration, address.ToString());
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            control.Dispose();
            throw new ConnectionFailedException($"Could not set up shared memory with '{address}': {ex.Message}", ex);
        }
    }

    /// <summary>The rendezvous socket path for <paramref name="address"/>.</summary>
    public string GetRendezvousPath(TransportAddress address) => Resolve(address).Path;

    private (string Name, string Path) Resolve(TransportAddress address)
    {
        var name = address.Target;
        if (address.Scheme != "shm" || name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"'{address}' is not a shared-memory address (a name of letters, digits, '-', '_' or '.'). {TransportRegistry.AcceptedForms}", nameof(address));
        }

        if (!Futex.IsSupported)
        {
            throw new PlatformNotSupportedException("The shared-memory transport needs Linux futexes (x64 or Arm64).");
        }

        var directory = _options.RendezvousDirectory ?? Path.GetTempPath();
        return (name, Path.Combine(directory, $"rpc-shm-{name}.sock"));
    }
}
