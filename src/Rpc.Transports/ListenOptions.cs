using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Rpc.Transports;

/// <summary>
/// Settings of one listening address: who may connect and with which file mode local endpoints
/// are created. Secure by default: on a local transport only the server's own user may connect.
/// </summary>
public sealed class ListenOptions
{
    /// <summary>
    /// User ids that may connect over a local transport, besides the server's own user.
    /// Default: none. A connection from another user is refused at accept time and logged.
    /// </summary>
    public ISet<uint> AllowedUserIds { get; } = new HashSet<uint>();

    /// <summary>Group ids whose members (by the peer's effective group) may connect over a local transport. Default: none.</summary>
    public ISet<uint> AllowedGroupIds { get; } = new HashSet<uint>();

    /// <summary>Lets every local user connect; the file mode still applies. Default: false.</summary>
    public bool AllowAnyUser { get; set; }

    /// <summary>
    /// File mode of a Unix socket or shared-memory rendezvous created for this address.
    /// Default: <see langword="null"/>, meaning 0600 (the owner only).
    /// </summary>
    public UnixFileMode? FileMode { get; set; }

    /// <summary>Where the listener logs refused and failed connections. Default: nowhere.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;
}
