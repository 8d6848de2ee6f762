using Microsoft.Extensions.Logging;

namespace Rpc.Client.Internal;

internal static partial class ClientLog
{
    [LoggerMessage(400, LogLevel.Debug, "Connected to {Address}")]
    public static partial void Connected(ILogger logger, string address);

    [LoggerMessage(401, LogLevel.Information, "Connecting to {Address} failed: {Reason}")]
    public static partial void ConnectFailed(ILogger logger, string address, string reason);

    [LoggerMessage(402, LogLevel.Warning, "The connection to {Address} did not close within {Seconds} s; aborting it")]
    public static partial void CloseTimedOut(ILogger logger, string address, double seconds);
}
