# syntax=docker/dockerfile:1
# kubebrain: the silo, which also serves etcd unless --frontend off. Build from the repository root:
#
#   docker build -f deploy/docker/kubebrain.Dockerfile -t kubebrain .
#
# Single node (SQLite in /var/lib/kubebrain/default.kubebrain, etcd on 2379):
#
#   docker run -p 2379:2379 -v kubebrain-data:/var/lib/kubebrain kubebrain
#
# In a cluster (deploy/k8s) it runs with --storage postgres --frontend off and KUBEBRAIN_POSTGRES set.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files only, so that a source change does not invalidate the package layer.
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props .editorconfig ./
COPY Protos/KubeBrain.Protos.csproj Protos/
COPY Grains.Interfaces/KubeBrain.Grains.Interfaces.csproj Grains.Interfaces/
COPY Grains/KubeBrain.Grains.csproj Grains/
COPY EtcdFrontend/KubeBrain.EtcdFrontend.csproj EtcdFrontend/
COPY Silo/KubeBrain.Silo.csproj Silo/
RUN dotnet restore Silo/KubeBrain.Silo.csproj
COPY Protos/ Protos/
COPY Grains.Interfaces/ Grains.Interfaces/
COPY Grains/ Grains/
COPY EtcdFrontend/ EtcdFrontend/
COPY Silo/ Silo/
RUN dotnet publish Silo/KubeBrain.Silo.csproj -c Release --no-restore -o /app -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# The working directory is the default parent of the data directory (<name>.kubebrain), owned by the image's
# non-root user.
RUN mkdir -p /var/lib/kubebrain && chown "$APP_UID" /var/lib/kubebrain
WORKDIR /var/lib/kubebrain
COPY --from=build /app /app
USER $APP_UID
# 2379 etcd clients, 2381 metrics (--listen-metrics-urls), 11111 silo to silo, 30000 Orleans client gateway.
EXPOSE 2379 2381 11111 30000
ENTRYPOINT ["dotnet", "/app/kubebrain.dll"]
# The default listen URL is loopback, which nothing outside the container reaches; arguments replace this.
CMD ["--listen-client-urls", "http://0.0.0.0:2379"]
