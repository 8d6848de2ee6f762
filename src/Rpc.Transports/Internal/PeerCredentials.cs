using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal;

/// <summary>
/// Asks the kernel who is on the other end of a connected Unix socket: <c>SO_PEERCRED</c> on Linux
/// (process, user and group as they were when the peer connected), <c>getpeereid</c> on macOS and
/// FreeBSD (user and group). The peer cannot lie about these, unlike anything it sends.
/// </summary>
internal static partial class PeerCredentials
{
    private const int SolSocket = 1; // SOL_SOCKET on Linux
    private const int SoPeerCred = 17; // SO_PEERCRED on Linux

    /// <summary>The peer of <paramref name="socket"/>, or <see langword="null"/> where the system cannot tell.</summary>
    public static PeerIdentity? Read(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return Read(socket.SafeHandle);
    }

    /// <summary>
    /// The peer of the connected Unix socket behind <paramref name="socketHandle"/> (a socket's
    /// handle, or a named pipe's on Linux and macOS, where .NET carries the pipe on a socket), or
    /// <see langword="null"/> where the system cannot tell.
    /// </summary>
    public static PeerIdentity? Read(SafeHandle socketHandle)
    {
        ArgumentNullException.ThrowIfNull(socketHandle);
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return null;
        }

        var added = false;
        try
        {
            // Holding a reference keeps the descriptor from being closed and reused while we ask.
            socketHandle.DangerousAddRef(ref added);
            var descriptor = (int)socketHandle.DangerousGetHandle();
            if (OperatingSystem.IsLinux())
            {
                var length = (uint)Marshal.SizeOf<UCred>();
                return GetSockOpt(descriptor, SolSocket, SoPeerCred, out var credentials, ref length) == 0
                    ? new PeerIdentity { ProcessId = credentials.ProcessId, UserId = credentials.UserId, GroupId = credentials.GroupId }
                    : null;
            }

            return GetPeerEid(descriptor, out var userId, out var groupId) == 0
                ? new PeerIdentity { UserId = userId, GroupId = groupId }
                : null;
        }
        finally
        {
            if (added)
            {
                socketHandle.DangerousRelease();
            }
        }
    }

    /// <summary>A local peer as gRPC's <c>Peer</c> shows it, e.g. <c>unix:pid=123,uid=1000,gid=1000</c>; <paramref name="fallback"/> when unknown.</summary>
    public static string Describe(string scheme, PeerIdentity? peer, string fallback)
    {
        if (peer?.UserId is not { } userId)
        {
            return fallback;
        }

        var pid = peer.ProcessId is { } processId ? string.Create(CultureInfo.InvariantCulture, $"pid={processId},") : string.Empty;
        var gid = peer.GroupId is { } groupId ? string.Create(CultureInfo.InvariantCulture, $",gid={groupId}") : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{scheme}:{pid}uid={userId}{gid}");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct UCred
    {
        public int ProcessId;
        public uint UserId;
        public uint GroupId;
    }

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int descriptor, int level, int name, out UCred value, ref uint length);

    [LibraryImport("libc", EntryPoint = "getpeereid", SetLastError = true)]
    private static partial int GetPeerEid(int descriptor, out uint userId, out uint groupId);
}
