using System.Runtime.InteropServices;

namespace Rpc.Client.Http;

/// <summary>This process's effective user id, which the same-host upgrade compares with the server's.</summary>
internal static partial class ProcessUser
{
    private static readonly Lazy<uint?> EffectiveUserIdValue = new(() => OperatingSystem.IsLinux() ? GetEffectiveUserId() : null);

    /// <summary>The effective uid; null where the upgrade's local transports and peer checks do not exist.</summary>
    public static uint? EffectiveUserId => EffectiveUserIdValue.Value;

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
