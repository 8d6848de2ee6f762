using System.Reflection;
using Grpc.Core;

namespace Rpc.Server.Internal;

/// <summary>
/// Binds a generated service by type, for <c>IRpcServerBuilder.AddService&lt;TService&gt;()</c>:
/// the generated <c>BindService(binder, null)</c> hands over each method's descriptor with no
/// handler; the handler becomes an open delegate over <typeparamref name="TService"/>'s method of
/// the same name (a virtual call, so the override runs), invoked on an instance that
/// <see cref="ServiceActivator{TService}"/> makes for each call.
/// </summary>
internal sealed class ActivatedServiceBinder<TService> : ServiceBinderBase
    where TService : class
{
    private const BindingFlags HandlerFlags = BindingFlags.Public | BindingFlags.Instance;
    private readonly List<IServerMethod> _methods = [];
    private readonly ServiceActivator<TService> _activator;

    private ActivatedServiceBinder(ServiceActivator<TService> activator) => _activator = activator;

    /// <summary>Adds <typeparamref name="TService"/>'s methods to <paramref name="registry"/>, all or none.</summary>
    /// <exception cref="ArgumentException">The type is not a generated service.</exception>
    /// <exception cref="InvalidOperationException">One of its methods is bound already, or has no handler method on the type.</exception>
    public static void Bind(MethodRegistry registry, IServiceProvider services)
    {
        var bindMethod = ServiceBinder.FindBindMethod(typeof(TService));
        var binder = new ActivatedServiceBinder<TService>(new ServiceActivator<TService>(services));
        bindMethod.Invoke(null, BindingFlags.DoNotWrapExceptions, binder: null, [binder, null], culture: null);
        registry.AddAll(binder._methods, typeof(TService).Name);
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
    {
        var invoker = Handler<Func<TService, TRequest, ServerCallContext, Task<TResponse>>>(method, typeof(TRequest), typeof(ServerCallContext));
        var activator = _activator;
        _methods.Add(new ServerMethod<TRequest, TResponse>(method) { Unary = (request, context) => activator.UnaryAsync(invoker, request, context) });
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
    {
        var invoker = Handler<Func<TService, IAsyncStreamReader<TRequest>, ServerCallContext, Task<TResponse>>>(method, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext));
        var activator = _activator;
        _methods.Add(new ServerMethod<TRequest, TResponse>(method) { ClientStreaming = (requests, context) => activator.ClientStreamingAsync(invoker, requests, context) });
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
    {
        var invoker = Handler<Func<TService, TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task>>(method, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
        var activator = _activator;
        _methods.Add(new ServerMethod<TRequest, TResponse>(method) { ServerStreaming = (request, responses, context) => activator.ServerStreamingAsync(invoker, request, responses, context) });
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
    {
        var invoker = Handler<Func<TService, IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task>>(method, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
        var activator = _activator;
        _methods.Add(new ServerMethod<TRequest, TResponse>(method) { Duplex = (requests, responses, context) => activator.DuplexStreamingAsync(invoker, requests, responses, context) });
    }

    private static TDelegate Handler<TDelegate>(IMethod method, params Type[] parameters)
        where TDelegate : Delegate
    {
        // Grpc.Tools names the C# method after the proto method, as Grpc.AspNetCore relies on too.
        var info = typeof(TService).GetMethod(method.Name, HandlerFlags, parameters)
            ?? throw new InvalidOperationException($"'{typeof(TService).Name}' has no public method {method.Name}({string.Join(", ", parameters.Select(p => p.Name))}) for '{method.FullName}'.");
        return info.CreateDelegate<TDelegate>();
    }
}
