using System.Collections.Concurrent;
using Grpc.Core;
using Rpc.Testing;

namespace Rpc.Tests.Hosting;

/// <summary>Counts what the container made and disposed, so a test can see lifetimes from outside the calls.</summary>
public sealed class LifetimeTracker
{
    private int _disposedServices;
    private int _disposedDependencies;

    public ConcurrentQueue<LifetimeService> Services { get; } = new();

    public ConcurrentQueue<ScopedDependency> Dependencies { get; } = new();

    public int DisposedServices => Volatile.Read(ref _disposedServices);

    public int DisposedDependencies => Volatile.Read(ref _disposedDependencies);

    public void ServiceDisposed() => Interlocked.Increment(ref _disposedServices);

    public void DependencyDisposed() => Interlocked.Increment(ref _disposedDependencies);
}

/// <summary>A scoped dependency: one per call, disposed with the call's scope.</summary>
public sealed class ScopedDependency : IDisposable
{
    private readonly LifetimeTracker _tracker;

    public ScopedDependency(LifetimeTracker tracker)
    {
        _tracker = tracker;
        tracker.Dependencies.Enqueue(this);
    }

    public bool Disposed { get; private set; }

    public void Dispose()
    {
        Disposed = true;
        _tracker.DependencyDisposed();
    }
}

/// <summary>
/// A TestService whose EmptyCall and UnaryCall record the instance that ran them; UnaryCall
/// fails with FailedPrecondition if its scoped dependency was disposed before the call ended.
/// </summary>
public sealed class LifetimeService : TestService.TestServiceBase, IDisposable
{
    private readonly LifetimeTracker _tracker;
    private readonly ScopedDependency _dependency;
    private int _calls;

    public LifetimeService(LifetimeTracker tracker, ScopedDependency dependency)
    {
        _tracker = tracker;
        _dependency = dependency;
        tracker.Services.Enqueue(this);
    }

    public int Calls => Volatile.Read(ref _calls);

    public ScopedDependency Dependency => _dependency;

    public override Task<Empty> EmptyCall(Empty request, ServerCallContext context)
    {
        Interlocked.Increment(ref _calls);
        return Task.FromResult(new Empty());
    }

    public override async Task StreamingOutputCall(StreamingOutputCallRequest request, IServerStreamWriter<StreamingOutputCallResponse> responseStream, ServerCallContext context)
    {
        Interlocked.Increment(ref _calls);
        foreach (var _ in request.ResponseParameters)
        {
            if (_dependency.Disposed)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "The call's scope was disposed while it ran."));
            }

            await responseStream.WriteAsync(new StreamingOutputCallResponse());
        }
    }

    public void Dispose() => _tracker.ServiceDisposed();
}
