namespace Rpc.Tests.Infrastructure;

/// <summary>Runs an async clean-up at the end of an <c>await using</c> scope.</summary>
public sealed class AsyncCleanup(Func<Task> cleanup) : IAsyncDisposable
{
    public async ValueTask DisposeAsync() => await cleanup();
}
