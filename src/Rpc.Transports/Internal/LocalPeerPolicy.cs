using System.Globalization;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal;

/// <summary>
/// Who may connect to a local listener (see <see cref="ListenOptions"/>): the server's own user,
/// the users and groups listed, or anyone when <see cref="ListenOptions.AllowAnyUser"/> is set.
/// A peer the system cannot identify (no <c>SO_PEERCRED</c> there) is let through: the file mode
/// and, for named pipes, the pipe's current-user check are then the guard.
/// </summary>
internal static partial class LocalPeerPolicy
{
    private static readonly Lazy<uint?> s_serverUserId = new(() => OperatingSystem.IsWindows() ? null : GetEffectiveUserId());

    /// <summary>This process's effective user id; <see langword="null"/> on Windows.</summary>
    public static uint? ServerUserId => s_serverUserId.Value;

    /// <summary>This process's effective group id; null on Windows.</summary>
    public static uint? ServerGroupId => OperatingSystem.IsWindows() ? null : GetEffectiveGroupId();

    /// <summary>Whether <paramref name="options"/> admit only this process's own user (the default).</summary>
    public static bool OwnUserOnly(ListenOptions options) =>
        !options.AllowAnyUser && options.AllowedUserIds.Count == 0 && options.AllowedGroupIds.Count == 0;

    /// <summary>Why <paramref name="peer"/> is refused, or <see langword="null"/> when it may connect.</summary>
    public static string? Check(ListenOptions options, PeerIdentity? peer, uint? serverUserId)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.AllowAnyUser || peer?.UserId is not { } userId)
        {
            return null;
        }

        if (userId == serverUserId || options.AllowedUserIds.Contains(userId))
        {
            return null;
        }

        if (peer.GroupId is { } groupId && options.AllowedGroupIds.Contains(groupId))
        {
            return null;
        }

        var group = peer.GroupId?.ToString(CultureInfo.InvariantCulture) ?? "unknown";
        return string.Create(CultureInfo.InvariantCulture,
            $"user {userId} (group {group}) is not allowed; allow it with ListenOptions.AllowedUserIds, AllowedGroupIds or AllowAnyUser");
    }

    /// <summary>Throws <see cref="UnauthorizedAccessException"/> naming the reason when <paramref name="peer"/> is refused.</summary>
    public static void Admit(ListenOptions options, PeerIdentity? peer)
    {
        if (Check(options, peer, ServerUserId) is { } reason)
        {
            throw new UnauthorizedAccessException(reason);
        }
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "getegid")]
    private static partial uint GetEffectiveGroupId();
}
