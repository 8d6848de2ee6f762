using Microsoft.Extensions.Logging;

namespace Rpc.Client.Http;

internal static partial class UpgradeLog
{
    [LoggerMessage(500, LogLevel.Debug, "Not upgrading {Target}: {Reason}")]
    public static partial void Declined(ILogger logger, string target, string reason);

    [LoggerMessage(501, LogLevel.Information, "Calls to {Target} now go over {Endpoint}")]
    public static partial void Upgraded(ILogger logger, string target, string endpoint);

    [LoggerMessage(502, LogLevel.Information, "Upgrading {Target} to {Endpoint} failed: {Reason}")]
    public static partial void EndpointFailed(ILogger logger, string target, string endpoint, string reason);

    [LoggerMessage(503, LogLevel.Information, "The local connection {Endpoint} is gone; calls to {Target} go over HTTP/2 again")]
    public static partial void FellBack(ILogger logger, string target, string endpoint);
}
