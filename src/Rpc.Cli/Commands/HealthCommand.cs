using System.CommandLine;
using Grpc.Core;
using Grpc.Health.V1;

namespace Rpc.Cli.Commands;

/// <summary><c>rpc health ADDRESS [SERVICE]</c>: grpc.health.v1 Check; exit code 0 only when SERVING.</summary>
internal static class HealthCommand
{
    public static Command Create(ToolIO io)
    {
        var connection = new Connection();
        var service = new Argument<string?>("service") { Description = "The service to check; the server as a whole when left out.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("health", "Check a server's (or a service's) health; exit code 0 only when SERVING.");
        connection.AddTo(command);
        command.Arguments.Add(service);
        command.SetAction((result, cancellationToken) => Tool.RunAsync(io, async () =>
        {
            await using var channel = connection.OpenChannel(result, out var settings);
            var client = new Health.HealthClient(channel.CreateCallInvoker());
            HealthCheckResponse response;
            try
            {
                response = await client.CheckAsync(new HealthCheckRequest { Service = result.GetValue(service) ?? "" }, settings.ToCallOptions(cancellationToken)).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
            {
                throw new ToolException(ExitCodes.Unimplemented, "The server does not serve grpc.health.v1.");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                throw new ToolException(ExitCodes.NotFound, $"The server knows no service '{result.GetValue(service)}' to report health for.");
            }

            // Names as the proto spells them, for scripts that compare text.
            await io.Out.WriteLineAsync(response.Status switch
            {
                HealthCheckResponse.Types.ServingStatus.Serving => "SERVING",
                HealthCheckResponse.Types.ServingStatus.NotServing => "NOT_SERVING",
                HealthCheckResponse.Types.ServingStatus.ServiceUnknown => "SERVICE_UNKNOWN",
                _ => "UNKNOWN",
            }).ConfigureAwait(false);
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving ? ExitCodes.Ok : ExitCodes.NotServing;
        }, connection, result));
        return command;
    }
}
