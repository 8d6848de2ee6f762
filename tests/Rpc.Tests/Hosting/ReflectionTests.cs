using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Grpc.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace Rpc.Tests.Hosting;

/// <summary>AddReflection: grpc.reflection v1 and v1alpha describing every added service, on every transport.</summary>
public sealed class ReflectionTests
{
    private static readonly string[] ExpectedServices =
    [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "rpc.testing.TestService",
    ];

    public static TheoryData<string> Transports => HostedTransports.All;

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task V1_ListServicesAndFileContainingSymbol_DescribeEveryAddedService(string transport)
    {
        await using var host = await StartAsync(transport);
        using var channel = RpcChannel.ForAddress(HostedTransports.BoundAddress(host));
        using var call = new V1.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();

        await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { ListServices = string.Empty }).DefaultTimeout();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(ExpectedServices, call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).Order(StringComparer.Ordinal));

        await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { FileContainingSymbol = "rpc.testing.TestService" }).DefaultTimeout();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        AssertDescribesTestService(call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto);

        await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { FileContainingSymbol = "no.Such" }).DefaultTimeout();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal((int)StatusCode.NotFound, call.ResponseStream.Current.ErrorResponse.ErrorCode);

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task V1Alpha_ListServicesAndFileContainingSymbol_DescribeEveryAddedService(string transport)
    {
        await using var host = await StartAsync(transport);
        using var channel = RpcChannel.ForAddress(HostedTransports.BoundAddress(host));
        using var call = new V1Alpha.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();

        await call.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { ListServices = string.Empty }).DefaultTimeout();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(ExpectedServices, call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).Order(StringComparer.Ordinal));

        await call.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { FileContainingSymbol = "rpc.testing.TestService.UnaryCall" }).DefaultTimeout();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        AssertDescribesTestService(call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto);

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
    }

    [Fact]
    public async Task AddedByHand_HealthServiceImplAndReflectionServiceImpl_StillServed()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        var health = new HealthServiceImpl();
        health.SetStatus("rpc.testing.TestService", HealthCheckResponse.Types.ServingStatus.Serving);
        await using var server = new RpcServer();
        server.AddService(new ConformanceService())
            .AddService(health)
            .AddService(new ReflectionServiceImpl(TestService.Descriptor, V1Alpha.ServerReflection.Descriptor))
            .Listen(address);
        await server.StartAsync().DefaultTimeout();
        using var channel = RpcChannel.ForAddress(address);

        var status = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest { Service = "rpc.testing.TestService" }).ResponseAsync.DefaultTimeout();
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, status.Status);

        using var call = new V1Alpha.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { ListServices = string.Empty }).DefaultTimeout();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Contains("rpc.testing.TestService", call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));
        await call.RequestStream.CompleteAsync().DefaultTimeout();
    }

    private static void AssertDescribesTestService(IEnumerable<ByteString> files)
    {
        var protos = files.Select(FileDescriptorProto.Parser.ParseFrom).ToList();
        var file = Assert.Single(protos, p => p.Package == "rpc.testing" && p.Service.Any(s => s.Name == "TestService"));
        Assert.Contains(file.Service.Single(s => s.Name == "TestService").Method, m => m.Name == "UnaryCall");
    }

    private static Task<TestHost> StartAsync(string transport) =>
        TestHost.StartAsync(services =>
            services.AddRpcServer()
                .AddService<ConformanceService>()
                .Listen(HostedTransports.NewAddress(transport))
                .AddReflection()
                .AddHealthChecks());
}
