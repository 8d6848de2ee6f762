using Grpc.Core;
using Rpc.Client;
using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Client;

/// <summary>Bounded waits on a channel's connectivity state, through its public WaitForStateChangedAsync.</summary>
internal static class ChannelStates
{
    /// <summary>Waits until <paramref name="channel"/> is in <paramref name="target"/>; fails after the default test timeout.</summary>
    public static async Task UntilAsync(RpcChannel channel, ConnectivityState target)
    {
        using var timeout = new CancellationTokenSource(Rpc.Tests.Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        var state = channel.State;
        try
        {
            while (state != target)
            {
                await channel.WaitForStateChangedAsync(state, timeout.Token);
                state = channel.State;
            }
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"The channel stayed {state}, never reaching {target}.", ex);
        }
    }
}
